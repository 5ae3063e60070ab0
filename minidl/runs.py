"""Many independent runs at once: the paper's Fig. 1 table is 30 runs of 100 epochs.

Each run r has its own random stream (``torch.Generator().manual_seed(seeds[r])``) that draws,
in this order, its training set, its validation set, its initial weights and each epoch's
shuffling order: exactly what a single run with that seed draws. The R models are then
stacked into one model whose layers carry a leading run dimension (weights ``(R, out, in)``)
and trained by the same loop as ``Sequential.fit``, so R runs cost little more than one.
"""
from __future__ import annotations

import torch

from .layers import Linear
from .sequential import Sequential
from ._checks import check_int
from .training import History, make_generators, resolve_loss, train
from .utils import build_data


def stack_models(models: list[Sequential]) -> Sequential:
    """One model with a leading run dimension whose run r is a copy of ``models[r]``."""
    if not models or not all(isinstance(m, Sequential) for m in models):
        raise TypeError("stack_models: expected a non-empty list of Sequential models")
    if any(m.linears and m.runs is not None for m in models):
        raise TypeError("stack_models: expected single-run models, got a model with a run dimension")
    shapes = [[repr(l) for l in m.layers] + [m.dtype if m.linears else None] for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack_models: all models must have the same layers and dtype, got {shapes[0]} "
                         f"and {next(s for s in shapes if s != shapes[0])}")
    layers = []
    for position, layer in enumerate(models[0].layers):
        if isinstance(layer, Linear):
            stacked = Linear(layer.in_features, layer.out_features, init=layer.init,
                             runs=len(models), dtype=layer.weight.dtype)
            stacked.weight.copy_(torch.stack([m.layers[position].weight for m in models]))
            stacked.bias.copy_(torch.stack([m.layers[position].bias for m in models]))
            layers.append(stacked)
        else:
            layers.append(type(layer)())
    return Sequential(*layers)


def unstack_model(model: Sequential, run: int, template: Sequential) -> Sequential:
    """Copy run ``run`` of a stacked ``model`` into ``template`` (a single-run model), in place."""
    if not isinstance(model, Sequential) or not model.linears or model.runs is None:
        got = f"runs={model.runs}" if isinstance(model, Sequential) and model.linears else repr(model)[:60]
        raise TypeError(f"unstack_model model: expected a model with a run dimension (see stack_models), got {got}")
    check_int(run, "unstack_model run", 0, model.runs - 1)
    if not isinstance(template, Sequential) or (template.linears and template.runs is not None):
        got = f"runs={template.runs}" if isinstance(template, Sequential) else type(template).__name__
        raise TypeError(f"unstack_model template: expected a single-run Sequential, got {got}")
    state = {k: v[run] for k, v in model.state_dict().items()}
    template.load_state_dict(state)
    return template


def fit_runs(model: Sequential, x_train, y_train, x_validation=None, y_validation=None, *,
             epochs: int = 100, step_size: float = 0.01, batch_size: int = 1, momentum: float = 0.0,
             decay: float = 0.9, loss="mse", generator=None, seed: int | None = None,
             callback=None) -> list[History]:
    """``Sequential.fit`` for a stacked model: data ``(R, N, features)``, one ``History`` per run.

    ``generator`` may be a list of R generators (one per run), as ``paper_runs`` makes.
    """
    if not model.linears or model.runs is None:
        raise TypeError("fit_runs: expected a model with a run dimension (see stack_models); "
                        "use model.fit for a single model")
    logs = train(model, x_train, y_train, x_validation, y_validation, epochs=epochs,
                 step_size=step_size, batch_size=batch_size, momentum=momentum, decay=decay,
                 loss=loss, generators=make_generators(seed, generator), callback=callback)
    params = dict(epochs=epochs, step_size=step_size, batch_size=batch_size,
                  momentum=momentum, decay=decay, loss=resolve_loss(loss).__name__)
    return [History({k: v[:, r].tolist() for k, v in logs.items()}, params) for r in range(model.runs)]


def make_run(seed: int, model_factory, n_train: int = 1000, n_validation: int = 1000,
             n_test: int = 0, dtype: torch.dtype = torch.float32):
    """Everything one run draws from its seed, in a fixed order: (generator, data, model).

    ``model_factory(generator=, dtype=)`` builds the model, as ``paper_model`` does.

    ``data`` is ``(x_train, y_train, x_validation, y_validation[, x_test, y_test])``.
    """
    g = torch.Generator().manual_seed(seed)
    data = []
    for n in (n_train, n_validation, n_test):
        if n:
            data += build_data(n, generator=g, dtype=dtype)
    model = model_factory(generator=g, dtype=dtype)
    return g, tuple(data), model


def stack_runs(runs: list[tuple[torch.Generator, tuple[torch.Tensor, ...], Sequential]]):
    """Runs made by ``make_run`` (any seeds, any model factories), stacked for ``fit_runs``:
    (generators, stacked data, stacked model, models).

    Every run must have the same data sizes and the same layers; data part i becomes
    ``(R, ...)`` with run r at index r.
    """
    generators = [g for g, _, _ in runs]
    data = tuple(torch.stack(parts) for parts in zip(*(d for _, d, _ in runs)))
    models = [m for _, _, m in runs]
    return generators, data, stack_models(models), models


def paper_runs(seeds: list[int], model_factory, n_train: int = 1000, n_validation: int = 1000,
               n_test: int = 0, dtype: torch.dtype = torch.float32):
    """``make_run`` for every seed, stacked: (generators, stacked data, stacked model, models).

    Training the stacked model with ``fit_runs(..., generator=generators)`` gives, run by
    run, what ``model.fit(..., generator=g)`` gives for each seed alone (tests check this).
    """
    return stack_runs([make_run(s, model_factory, n_train, n_validation, n_test, dtype) for s in seeds])
