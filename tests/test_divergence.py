"""Divergence (issue 6): a NaN or infinite loss stops ``fit`` at once with ``DivergenceError``
naming the epoch and the step size and suggesting a smaller one, and the model keeps the
finite weights it had at the start of that epoch.

The paper's signature default, ``step_size=0.1``, diverges on the paper's network under the
paper's loss: per-sample SGD on 1000 points blows up within the first epoch.
"""
from __future__ import annotations

import math

import pytest
import torch

from helpers import all_finite, same_weights
from minidl import DivergenceError, build_data, paper_model
from minidl.runs import fit_runs, paper_runs, stack_models
from minidl.training import not_finite


def paper_setup(seed: int = 0, n: int = 1000, init: str = "uniform"):
    g = torch.Generator().manual_seed(seed)
    x, y = build_data(n, generator=g)
    xv, yv = build_data(200, generator=g)
    return g, x, y, xv, yv, paper_model(init=init, generator=g)


def fit_until_divergence(model, *args, **kwargs) -> tuple[DivergenceError, list[dict]]:
    """Run ``fit`` expecting divergence; return the error and the weights after each epoch
    (index 0: before training), recorded by a callback."""
    states = [model.state_dict()]
    with pytest.raises(DivergenceError) as info:
        model.fit(*args, callback=lambda epoch, logs: states.append(model.state_dict()), **kwargs)
    return info.value, states


def test_paper_signature_step_size_diverges_in_epoch_1_and_keeps_the_initial_weights():
    g, x, y, xv, yv, model = paper_setup()
    error, states = fit_until_divergence(model, x, y, xv, yv, epochs=100, step_size=0.1, generator=g)
    message = str(error)
    assert error.epoch == 1
    assert "epoch 1" in message and "step size 0.1" in message
    assert "smaller step_size" in message and "0.01" in message
    assert "loss is nan" in message or "loss is inf" in message
    assert all_finite(model)
    assert same_weights(model.state_dict(), states[0])     # the start of epoch 1
    # no epoch finished: every key of History.history, each an empty list
    assert error.history == {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}


def test_divergence_in_a_later_epoch_restores_the_start_of_that_epoch():
    """Batch GD (100 samples) at step 0.3 survives epoch 1 and diverges in epoch 2."""
    g, x, y, xv, yv, model = paper_setup()
    error, states = fit_until_divergence(model, x, y, xv, yv, epochs=20, step_size=0.3, batch_size=100,
                                         generator=g)
    assert error.epoch >= 2, "this configuration is meant to diverge after the first epoch"
    eta = 0.3 * 0.9 ** (error.epoch - 1)                    # the decayed step size of that epoch
    assert f"epoch {error.epoch}" in str(error) and f"step size {eta:.3g}" in str(error)
    assert len(states) == error.epoch                       # epochs 1 .. epoch-1 finished
    assert same_weights(model.state_dict(), states[-1])     # = weights at the start of that epoch
    assert not same_weights(states[-1], states[0])          # and they are not the initial ones
    assert all_finite(model)
    assert set(error.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == error.epoch - 1 for v in error.history.values())
    assert all(math.isfinite(value) for value in error.history["loss"])


def test_the_divergence_history_is_what_fit_would_have_returned():
    """Same types as History.history (lists of floats), same values as a fit of the epochs that
    finished, run from the same start."""
    g, x, y, xv, yv, model = paper_setup()
    start = model.state_dict()
    error, _ = fit_until_divergence(model, x, y, xv, yv, epochs=20, step_size=0.3, batch_size=100, seed=5)
    finished = error.epoch - 1
    assert finished >= 1
    model.load_state_dict(start)
    history = model.fit(x, y, xv, yv, epochs=finished, step_size=0.3, batch_size=100, seed=5).history
    assert all(type(value) is float for values in error.history.values() for value in values)
    assert error.history == history


def test_many_runs_divergence_history_is_one_history_dict_per_run():
    generators, data, stacked, _ = paper_runs([0, 1], paper_model, n_train=1000, n_validation=100)
    with pytest.raises(DivergenceError) as info:
        fit_runs(stacked, *data[:4], generator=generators, epochs=5, step_size=0.1)
    assert info.value.history == [{"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}] * 2


def test_momentum_diverges_too():
    g, x, y, xv, yv, model = paper_setup()
    error, states = fit_until_divergence(model, x, y, epochs=5, step_size=0.2, momentum=0.5, generator=g)
    assert "step size 0.2" in str(error) and "smaller step_size" in str(error)
    assert same_weights(model.state_dict(), states[-1]) and all_finite(model)


def test_divergence_is_an_arithmetic_error_and_not_a_bad_input_error():
    g, x, y, _, _, model = paper_setup(n=1000)
    with pytest.raises(ArithmeticError):
        model.fit(x, y, epochs=1, step_size=0.1, generator=g)
    assert not issubclass(DivergenceError, (ValueError, TypeError))


def test_after_divergence_a_smaller_step_size_trains_from_the_kept_weights():
    g, x, y, xv, yv, model = paper_setup()
    with pytest.raises(DivergenceError):
        model.fit(x, y, epochs=3, step_size=0.1, generator=g)
    history = model.fit(x, y, xv, yv, epochs=3, step_size=0.01, generator=g)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.history.values())
    assert history.history["accuracy"][-1] > 0.6
    assert all_finite(model)


def test_a_stable_step_size_does_not_raise():
    g, x, y, xv, yv, model = paper_setup(n=300)
    history = model.fit(x, y, xv, yv, epochs=3, step_size=0.01, generator=g)
    assert len(history.history["loss"]) == 3


def test_many_runs_path_diverges_and_keeps_every_runs_weights():
    generators, data, stacked, _ = paper_runs([0, 1, 2], paper_model, n_train=1000, n_validation=100)
    before = stacked.state_dict()
    with pytest.raises(DivergenceError) as info:
        fit_runs(stacked, *data[:4], generator=generators, epochs=5, step_size=0.1)
    assert info.value.epoch == 1
    assert "in runs [0, 1, 2]" in str(info.value) and "step size 0.1" in str(info.value)
    assert same_weights(stacked.state_dict(), before) and all_finite(stacked)


def test_many_runs_path_names_only_the_runs_that_diverged():
    """Run 0 (Xavier initialisation) is stable at step 0.1, run 1 (the paper's U[-1, 1]) is not."""
    _, x0, y0, _, _, stable = paper_setup(seed=0, init="xavier")
    _, x1, y1, _, _, unstable = paper_setup(seed=1)
    stacked = stack_models([stable, unstable])
    before = stacked.state_dict()
    with pytest.raises(DivergenceError) as info:
        fit_runs(stacked, torch.stack([x0, x1]), torch.stack([y0, y1]), epochs=3, step_size=0.1, seed=0)
    message = str(info.value)
    assert "in runs [1]" in message
    assert "loss is nan" in message or "loss is inf" in message    # the diverged run's loss, not run 0's
    assert same_weights(stacked.state_dict(), before) and all_finite(stacked)


def test_an_overflowing_validation_loss_counts_as_divergence():
    """Found by tests/test_properties.py: at a huge step size the training loss reached 4e37
    (finite in float32) while the validation loss was already inf. fit used to return that
    history without a word; it now raises, and the weights are the last finite ones."""
    g = torch.Generator().manual_seed(918100982)
    x, y = build_data(4, generator=g)
    model = paper_model(generator=g)
    xv, yv = build_data(10, generator=g)
    error, states = fit_until_divergence(model, x, y, xv, yv, epochs=3, step_size=10 ** 2.473875455298713,
                                         batch_size=3, momentum=0.5, decay=0.5, loss="elementwise", generator=g)
    assert same_weights(model.state_dict(), states[-1]) and all_finite(model)
    assert all(math.isfinite(value) for values in error.history.values() for value in values)


def test_a_non_finite_weight_is_caught_even_when_the_losses_are_finite():
    """Tanh can hide an infinite weight (tanh(inf) = 1), so the end-of-epoch check looks at the
    weights too, run by run."""
    finite_logs = {"loss": torch.tensor([0.1, 0.2]), "val_loss": torch.tensor([0.1, 0.2])}
    stacked = stack_models([paper_model(), paper_model()])
    assert not_finite(finite_logs, stacked.param()).tolist() == [False, False]
    stacked.linears[2].weight[1, 0, 0] = float("inf")
    assert not_finite(finite_logs, stacked.param()).tolist() == [False, True]
    single = paper_model()
    single.linears[0].bias[3] = float("nan")
    assert bool(not_finite({"loss": torch.tensor(0.1)}, single.param()))
