"""Many runs at once (minidl.runs) give, run by run, what each seed gives alone.

R runs trained together by ``paper_runs`` + ``fit_runs`` are compared with the same R seeds
trained one by one with ``make_run`` + ``model.fit(generator=g)``: same final weights and same
per-epoch histories. In float64 the two paths agree to round-off (1e-10); in float32, the
dtype the notebooks use, to 1e-4 after a few epochs of per-sample SGD.
"""
from __future__ import annotations

import functools

import pytest
import torch

from minidl import Linear, Module, ReLU, Sequential, Tanh, paper_model
from minidl.runs import evaluate_runs, fit_runs, make_run, paper_runs, stack_models, unstack_model

SEEDS = [0, 1, 2]
N_TRAIN, N_VALIDATION, EPOCHS = 120, 60, 3

TRAINERS = {                                   # name -> fit arguments
    "per-sample SGD": dict(batch_size=1),
    "batch GD": dict(batch_size=N_TRAIN),
    "mini-batch, last batch partial": dict(batch_size=50),
    "per-sample SGD with momentum": dict(batch_size=1, momentum=0.5),
}


def one_by_one(factory, dtype, fit_args):
    """Each seed alone: (final state_dict, History) per seed."""
    out = []
    for seed in SEEDS:
        g, data, model = make_run(seed, factory, N_TRAIN, N_VALIDATION, dtype=dtype)
        history = model.fit(*data, epochs=EPOCHS, generator=g, **fit_args)
        out.append((model.state_dict(), history))
    return out


def all_at_once(factory, dtype, fit_args):
    """All seeds as one stacked model: (final state_dict, History) per seed."""
    generators, data, stacked, _ = paper_runs(SEEDS, factory, N_TRAIN, N_VALIDATION, dtype=dtype)
    histories = fit_runs(stacked, *data[:4], epochs=EPOCHS, generator=generators, **fit_args)
    return [(unstack_model(stacked, r, factory()).state_dict(), histories[r]) for r in range(len(SEEDS))]


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("trainer", TRAINERS)
def test_runs_at_once_equal_runs_one_by_one(trainer, dtype, atol):
    factory = functools.partial(paper_model, dtype=dtype)
    alone = one_by_one(factory, dtype, TRAINERS[trainer])
    together = all_at_once(factory, dtype, TRAINERS[trainer])
    for seed, ((state_a, history_a), (state_t, history_t)) in zip(SEEDS, zip(alone, together)):
        for key in state_a:
            torch.testing.assert_close(state_t[key], state_a[key], atol=atol, rtol=0,
                                       msg=lambda m: f"seed {seed}, {trainer}, weight {key}: {m}")
        assert history_t.history.keys() == history_a.history.keys() == {
            "loss", "accuracy", "val_loss", "val_accuracy"}
        for metric, values in history_a.history.items():
            assert len(history_t.history[metric]) == len(values) == EPOCHS
            # an accuracy is a count / N: a point on the boundary may flip under float32 round-off
            tol = atol if metric.endswith("loss") or dtype == torch.float64 else 1.0 / N_VALIDATION + atol
            assert history_t.history[metric] == pytest.approx(values, abs=tol, rel=0), (
                f"seed {seed}, {trainer}, {metric}")


def test_runs_differ_from_each_other():
    """The runs are independent: different seeds give different data, weights and results."""
    generators, data, stacked, singles = paper_runs(SEEDS, paper_model, N_TRAIN, N_VALIDATION)
    assert not torch.equal(data[0][0], data[0][1])
    assert not torch.equal(singles[0].layers[0].weight, singles[1].layers[0].weight)
    histories = fit_runs(stacked, *data[:4], epochs=1, generator=generators)
    assert len({h.history["loss"][0] for h in histories}) == len(SEEDS)


def test_paper_runs_shapes_and_dtype():
    generators, data, stacked, singles = paper_runs(SEEDS, paper_model, 10, 20, 30, dtype=torch.float64)
    assert len(generators) == len(singles) == stacked.runs == len(SEEDS)
    assert [tuple(d.shape) for d in data] == [(3, 10, 2), (3, 10), (3, 20, 2), (3, 20), (3, 30, 2), (3, 30)]
    assert data[0].dtype == stacked.dtype == singles[0].dtype == torch.float64


# --- stack_models / unstack_model ---------------------------------------------------------------

def small_model(seed: int, dtype=torch.float32) -> Sequential:
    g = torch.Generator().manual_seed(seed)
    return Sequential(Linear(2, 4, generator=g, dtype=dtype), Tanh(), Linear(4, 2, generator=g, dtype=dtype))


def test_stack_then_unstack_gives_back_each_model():
    models = [small_model(s) for s in range(3)]
    stacked = stack_models(models)
    assert stacked.runs == 3
    assert [repr(l) for l in stacked.layers] == [
        "Linear(in_features=2, out_features=4, runs=3)", "Tanh()", "Linear(in_features=4, out_features=2, runs=3)"]
    for r, model in enumerate(models):
        back = unstack_model(stacked, r, small_model(99))
        for key, value in model.state_dict().items():
            assert torch.equal(back.state_dict()[key], value)


def test_stacked_forward_is_each_models_forward():
    models = [small_model(s) for s in range(3)]
    x = torch.rand(3, 5, 2, generator=torch.Generator().manual_seed(0))
    out = stack_models(models).forward(x)
    assert out.shape == (3, 5, 2)
    for r, model in enumerate(models):
        torch.testing.assert_close(out[r], model.forward(x[r]))


def test_stacking_copies_the_weights():
    models = [small_model(s) for s in range(2)]
    before = models[0].layers[0].weight.clone()
    stacked = stack_models(models)
    stacked.layers[0].weight.add_(1.0)
    assert torch.equal(models[0].layers[0].weight, before)


@pytest.mark.parametrize("models, error, words", [
    ([], TypeError, "non-empty list"),
    ([Linear(2, 2)], TypeError, "Sequential"),
    ([Sequential(Linear(2, 4), ReLU(), Linear(4, 2)), Sequential(Linear(2, 4), Tanh(), Linear(4, 2))],
     ValueError, "same layers"),
    ([Sequential(Linear(2, 4)), Sequential(Linear(2, 3))], ValueError, "same layers"),
    ([Sequential(Linear(2, 4)), Sequential(Linear(2, 4, dtype=torch.float64))], ValueError, "dtype"),
    ([Sequential(Linear(2, 4, runs=2))], TypeError, "single-run"),
])
def test_stack_models_rejects(models, error, words):
    with pytest.raises(error, match=words):
        stack_models(models)


def test_unstack_model_rejects():
    stacked = stack_models([small_model(s) for s in range(2)])
    with pytest.raises(TypeError, match="unstack_model model.*run dimension.*runs=None"):
        unstack_model(small_model(0), 0, small_model(1))
    for bad in (2, -1):
        with pytest.raises(ValueError, match=f"unstack_model run.*between 0 and 1, got {bad}"):
            unstack_model(stacked, bad, small_model(1))
    with pytest.raises(TypeError, match="unstack_model run: expected an integer"):
        unstack_model(stacked, 0.0, small_model(1))
    with pytest.raises(TypeError, match="unstack_model template.*single-run.*runs=2"):
        unstack_model(stacked, 0, stacked)
    with pytest.raises(ValueError, match="load_state_dict"):          # a different architecture
        unstack_model(stacked, 0, Sequential(Linear(2, 3), Tanh(), Linear(3, 2)))


def test_fit_and_fit_runs_refuse_the_other_kind_of_model():
    x, y = torch.rand(2, 8, 2), torch.zeros(2, 8, dtype=torch.long)
    stacked = stack_models([small_model(s) for s in range(2)])
    with pytest.raises(TypeError, match="fit_runs"):
        stacked.fit(x, y, epochs=1)
    with pytest.raises(TypeError, match="fit_runs: expected a model with a run dimension"):
        fit_runs(small_model(0), x[0], y[0], epochs=1)


def test_fit_runs_rejects_data_without_the_run_dimension():
    stacked = stack_models([small_model(s) for s in range(2)])
    with pytest.raises(ValueError, match=r"x_train: expected shape \(runs=2, N, 2\)"):
        fit_runs(stacked, torch.rand(8, 2), torch.zeros(8, dtype=torch.long), epochs=1)


def test_fit_runs_wants_one_generator_or_one_per_run():
    generators, data, stacked, _ = paper_runs([0, 1, 2], paper_model, n_train=20, n_validation=20)
    before = {k: v.clone() for k, v in stacked.state_dict().items()}
    with pytest.raises(ValueError, match=r"one generator or one per run \(3\), got 2"):
        fit_runs(stacked, *data, epochs=1, generator=generators[:2])
    assert all(torch.equal(before[k], v) for k, v in stacked.state_dict().items())
    fit_runs(stacked, *data, epochs=1, generator=generators[:1])     # one shared stream is fine


# --- nested models, unknown layers, torch's global generator --------------------------------------

def nested_model(seed: int) -> Sequential:
    g = torch.Generator().manual_seed(seed)
    return Sequential(Sequential(Linear(2, 4, generator=g), Tanh()),
                      Sequential(Linear(4, 3, generator=g), ReLU(), Linear(3, 2, generator=g)))


def test_stacking_nested_models_keeps_their_layers_and_weights():
    """A nested Sequential used to come back empty (``type(layer)()``), a different model."""
    models = [nested_model(s) for s in range(3)]
    stacked = stack_models(models)
    assert stacked.runs == 3 and len(stacked.linears) == 3
    assert [[repr(l) for l in part.layers] for part in stacked.layers] == [
        ["Linear(in_features=2, out_features=4, runs=3)", "Tanh()"],
        ["Linear(in_features=4, out_features=3, runs=3)", "ReLU()", "Linear(in_features=3, out_features=2, runs=3)"]]
    x = torch.rand(3, 5, 2, generator=torch.Generator().manual_seed(0))
    out = stacked.forward(x)
    for r, model in enumerate(models):
        torch.testing.assert_close(out[r], model.forward(x[r]))
        back = unstack_model(stacked, r, nested_model(99))
        assert all(torch.equal(back.state_dict()[k], v) for k, v in model.state_dict().items())


class Scale(Module):
    """A layer stack_models knows nothing about: it has a constructor argument."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def forward(self, input):
        return input * self.factor

    def backward(self, grad_wrt_output):
        return grad_wrt_output * self.factor

    def __repr__(self) -> str:
        return f"Scale({self.factor})"


def test_stack_models_refuses_a_layer_it_cannot_stack():
    models = [Sequential(Linear(2, 2), Sequential(Scale(2.0), Linear(2, 2))) for _ in range(2)]
    with pytest.raises(ValueError, match=r"stack_models: layer 1\.0 Scale\(2\.0\).*Linear.*ReLU.*Sequential"):
        stack_models(models)


def test_stack_models_leaves_torch_global_generator_alone():
    models = [small_model(s) for s in range(3)]
    nested = [nested_model(s) for s in range(2)]
    before = torch.random.get_rng_state()
    stack_models(models)
    stack_models(nested)
    assert torch.equal(torch.random.get_rng_state(), before)


# --- predict and evaluate on a stacked model ---------------------------------------------------------

def stacked_data(runs: int = 3, n: int = 7):
    g = torch.Generator().manual_seed(5)
    return torch.rand(runs, n, 2, generator=g), torch.randint(0, 2, (runs, n), generator=g)


def test_predict_on_a_stacked_model_gives_one_row_of_labels_per_run():
    models = [small_model(s) for s in range(3)]
    x, _ = stacked_data()
    labels = stack_models(models).predict(x)
    assert labels.shape == (3, 7) and labels.dtype == torch.int64
    for r, model in enumerate(models):
        assert torch.equal(labels[r], model.predict(x[r]))


def test_evaluate_on_a_stacked_model_names_evaluate_runs():
    """It used to raise a bare RuntimeError from inside the loss."""
    stacked = stack_models([small_model(s) for s in range(3)])
    x, y = stacked_data()
    with pytest.raises(TypeError, match=r"evaluate: this model holds several runs \(3\).*minidl\.runs\.evaluate_runs"):
        stacked.evaluate(x, y)


@pytest.mark.parametrize("loss", ["mse", "elementwise"])
def test_evaluate_runs_gives_each_runs_evaluate(loss):
    models = [small_model(s, torch.float64) for s in range(3)]
    x, y = stacked_data()
    x = x.double()
    results = evaluate_runs(stack_models(models), x, y, loss=loss)
    assert len(results) == 3
    for r, model in enumerate(models):
        alone = model.evaluate(x[r], y[r], loss=loss)
        assert results[r].keys() == alone.keys() == {"loss", "accuracy"}
        assert results[r]["loss"] == pytest.approx(alone["loss"], abs=1e-12, rel=0)
        assert results[r]["accuracy"] == alone["accuracy"]


def test_evaluate_runs_refuses_a_single_model():
    x, y = stacked_data()
    with pytest.raises(TypeError, match="evaluate_runs: expected a model with a run dimension.*model.evaluate"):
        evaluate_runs(small_model(0), x[0], y[0])


# --- summary -----------------------------------------------------------------------------------------

def test_summary_of_a_stacked_model_shows_the_run_dimension_and_one_networks_parameters():
    text = stack_models([paper_model(), paper_model(), paper_model()]).summary()
    assert "(3, N, 25)" in text and "(3, N, 2)" in text and "(N, 25)" not in text.replace("(3, N, 25)", "")
    assert "Total params: 1,427 per run, 3 runs" in text      # 3*25 + 26*25 + 26*25 + 26*2, not 3 times it
    assert " 650" in text and "1,950" not in text               # Linear(25, 25): 26*25 per run


def test_summary_of_a_nested_model_is_one_row_per_layer():
    text = nested_model(0).summary()
    lines = text.splitlines()
    rows = lines[2:-2]
    assert [row.split()[0] for row in rows] == ["0.0", "0.1", "1.0", "1.1", "1.2"]
    assert "(N, 4)" in rows[0] and "(N, 4)" in rows[1] and "(N, 3)" in rows[2] and "(N, 2)" in rows[4]
    assert [row.split()[-1] for row in rows] == ["12", "0", "15", "0", "8"]
    assert lines[-1] == "Total params: 35"
