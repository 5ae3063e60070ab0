"""Many independent runs at once: the paper's Fig. 1 table is 30 runs of 100 epochs.

Each run r has its own random stream (``torch.Generator().manual_seed(seeds[r])``) that draws,
in this order, its training set, its validation set, its initial weights and each epoch's
shuffling order: exactly what a single run with that seed draws. The R models are then
stacked into one model whose layers carry a leading run dimension (weights ``(R, out, in)``)
and trained by the same loop as ``Sequential.fit``, so R runs cost little more than one.
"""
from __future__ import annotations

import torch

from .layers import Activation, Linear
from .module import Module
from .sequential import Sequential
from ._checks import check_int
from .training import History, evaluate, make_generators, train
from .utils import build_data


def stack_models(models: list[Sequential]) -> Sequential:
    """One model with a leading run dimension whose run r is a copy of ``models[r]``.

    Each ``Linear`` becomes a ``Linear(..., runs=R)`` holding the R weight matrices; ``ReLU``
    and ``Tanh`` stay as they are (they broadcast over runs); a nested ``Sequential`` is stacked
    layer by layer. The models are not changed, and torch's global random stream is not used.

    Raises:
        ``TypeError`` unless ``models`` is a non-empty list of single-run ``Sequential`` models;
        ``ValueError`` if they differ in layers or dtype, or hold a layer of another kind
        (it cannot be given a run dimension).
    """
    if not models or not all(isinstance(m, Sequential) for m in models):
        raise TypeError("stack_models: expected a non-empty list of Sequential models")
    if any(m.runs is not None for m in models):
        raise TypeError("stack_models: expected single-run models, got a model with a run dimension")
    shapes = [[repr(l) for l in m.layers] + [m.dtype] for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack_models: all models must have the same layers and dtype, got {shapes[0]} "
                         f"and {next(s for s in shapes if s != shapes[0])}")
    for name, layer in models[0].named_layers():
        if not isinstance(layer, (Linear, Activation)):
            raise ValueError(f"stack_models: layer {name} {layer!r} cannot be given a run dimension: "
                             f"expected Linear, an activation (ReLU, Tanh) or a nested Sequential")
    return _stack(models)


def _stack(layers: list[Module]) -> Module:
    """The layer whose run r is ``layers[r]`` (the same architecture, checked by the caller)."""
    first = layers[0]
    if isinstance(first, Sequential):
        return Sequential(*(_stack([m.layers[i] for m in layers]) for i in range(len(first.layers))))
    if isinstance(first, Activation):
        return type(first)()
    # A private generator: its initial draws are overwritten below, and torch's global stream
    # (which a fresh Linear would otherwise draw from) is left alone.
    stacked = Linear(first.in_features, first.out_features, init=first.init, runs=len(layers),
                     dtype=first.weight.dtype, generator=torch.Generator())
    stacked.weight.copy_(torch.stack([layer.weight for layer in layers]))
    stacked.bias.copy_(torch.stack([layer.bias for layer in layers]))
    return stacked


def unstack_model(model: Sequential, run: int, template: Sequential) -> Sequential:
    """Copy run ``run`` of a stacked ``model`` into ``template`` (a single-run model of the same
    layers), in place, and return ``template``.

    Raises:
        ``TypeError`` unless ``model`` has runs and ``template`` has none; ``ValueError`` for a
        ``run`` out of range or a template of other layers (``load_state_dict``).
    """
    if not isinstance(model, Sequential) or model.runs is None:
        got = f"runs={model.runs}" if isinstance(model, Sequential) else repr(model)[:60]
        raise TypeError(f"unstack_model model: expected a model with a run dimension (see stack_models), got {got}")
    check_int(run, "unstack_model run", 0, model.runs - 1)
    if not isinstance(template, Sequential) or template.runs is not None:
        got = f"runs={template.runs}" if isinstance(template, Sequential) else type(template).__name__
        raise TypeError(f"unstack_model template: expected a single-run Sequential, got {got}")
    state = {k: v[run] for k, v in model.state_dict().items()}
    template.load_state_dict(state)
    return template


def fit_runs(model: Sequential, x_train, y_train, x_validation=None, y_validation=None, *,
             epochs: int = 100, step_size: float = 0.01, batch_size: int = 1, momentum: float = 0.0,
             decay: float = 0.9, loss="mse", generator=None, seed: int | None = None,
             callback=None, engine: str = "plain") -> list[History]:
    """``Sequential.fit`` for a stacked model: data ``(R, N, features)``, one ``History`` per run.

    ``generator`` may be a list of R generators (one per run), as ``paper_runs`` makes;
    ``engine`` is ``fit``'s (``'plain'`` or ``'fast'``).
    """
    _need_runs(model, "fit_runs", "fit")
    return train(model, x_train, y_train, x_validation, y_validation, epochs=epochs,
                 step_size=step_size, batch_size=batch_size, momentum=momentum, decay=decay,
                 loss=loss, generators=make_generators(seed, generator), callback=callback, engine=engine)


def evaluate_runs(model: Sequential, x, y, loss="mse") -> list[dict[str, float]]:
    """``Sequential.evaluate`` for a stacked model: data ``(R, N, features)`` and labels ``(R, N)``;
    one ``{'loss': float, 'accuracy': float}`` per run."""
    _need_runs(model, "evaluate_runs", "evaluate")
    return evaluate(model, x, y, loss)


def _need_runs(model: Sequential, function: str, method: str) -> None:
    if not isinstance(model, Sequential) or model.runs is None:
        raise TypeError(f"{function}: expected a model with a run dimension (see stack_models); "
                        f"use model.{method} for a single model")


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
