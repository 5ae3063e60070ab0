"""The studies of notebooks 05 and 06: minidl against torch.nn, momentum, batches, initialisation.

This module is *not* part of the framework; it holds the measuring logic the two notebooks
use, so that it is tested (``tests/test_studies.py``) and the notebooks stay short:

- ``torch_init_model``: the paper's network initialised as ``torch.nn.Linear`` does by default;
- ``step_by_step``: minidl and its ``torch.nn`` + autograd twin trained side by side, the
  largest weight difference after every step;
- ``total_variation``, ``fraction_of_increases``, ``mean_abs_second_difference``: how smooth a
  learning curve is, as numbers (``smoothness`` gives all three);
- ``seconds_per_epoch``, ``time_minidl_and_torch``: timings on one thread;
- ``train_configs``, ``final_values``, ``epochs_to_reach``, ``describe_runs``, ``mean_curve``: many
  runs at once (``minidl.runs``) and what to read from them;
- ``batch_size_sweep``: batch gradient descent for several batch sizes;
- ``write_table``: a table beside the paper's, as Markdown and JSON in ``figures/``.
"""
from __future__ import annotations

import copy
import math
import os
import statistics
import time
from typing import Callable, Sequence

import torch

from .. import paper_model
from .._checks import check_int
from .compare import fit_torch, torch_loss, torch_twin
from .experiments import progress_printer
from .tables import paper_table, summarise, write_table_files
from ..optim import SGD, torch_sgd_lr
from ..runs import fit_runs, make_run, stack_runs
from ..sequential import Sequential
from ..training import History, resolve_loss
from ..utils import as_targets, torch_threads

# --- initialisation ----------------------------------------------------------------------------

def torch_init_model(*, runs: int | None = None, dtype: torch.dtype | None = None,
                     generator: torch.Generator | None = None) -> Sequential:
    r"""The paper's network initialised as ``torch.nn.Linear`` is by default.

    ``torch.nn.Linear(in, out)`` draws its weight with ``kaiming_uniform_(a=sqrt(5))`` and its bias
    from the same range: both are :math:`U(-1/\sqrt{in}, 1/\sqrt{in})`. Here the paper's
    :math:`U[-1, 1]` draws (``paper_model``, same generator, same order) are multiplied by
    :math:`1/\sqrt{in}`, which gives exactly that distribution. So a run with this model and a
    run with ``paper_model`` from the same seed see the same data and the same shuffling; only
    the scale of the initial weights differs.

    Parameters:
        - ``runs``, ``dtype``, ``generator``: as for ``paper_model``.

    Returns:
        The 2-25-25-25-2 ``Sequential``, every ``Linear``'s weight and bias scaled by 1/sqrt(in).
    """
    model = paper_model(runs=runs, dtype=dtype, generator=generator)
    for layer in model.linears:
        scale = 1.0 / math.sqrt(layer.in_features)
        layer.weight.mul_(scale)
        layer.bias.mul_(scale)
    return model


# --- minidl against torch.nn + autograd, step by step --------------------------------------------

def max_weight_difference(model: Sequential, net: torch.nn.Module) -> float:
    """The largest :math:`|w_{minidl} - w_{torch}|` over every weight and bias of the two
    networks, compared in order (``model.param()`` against ``net.parameters()``)."""
    ours = [value for value, _ in model.param()]
    theirs = [p.detach() for p in net.parameters()]
    if len(ours) != len(theirs) or any(a.shape != b.shape for a, b in zip(ours, theirs)):
        raise ValueError(f"max_weight_difference: the networks differ: minidl has shapes "
                         f"{[tuple(a.shape) for a in ours]}, torch {[tuple(b.shape) for b in theirs]}")
    return max(float((a - b).abs().max()) for a, b in zip(ours, theirs))


def step_by_step(model: Sequential, x: torch.Tensor, y: torch.Tensor, *, steps: int,
                 step_size: float = 0.01, momentum: float = 0.0, loss: str = "mse",
                 generator: torch.Generator | None = None, torch_lr: float | None = None,
                 torch_momentum: float | None = None) -> torch.Tensor:
    r"""Train a copy of ``model`` (minidl) and its ``torch_twin`` one sample at a time, in the
    same random order; return the largest weight difference after each step, shape ``(steps,)``.

    minidl uses its own backward (eqs. 1-5) and the paper's EMA momentum
    :math:`V \leftarrow \beta V + (1-\beta) g,\ w \leftarrow w - \eta V`; torch uses autograd and
    ``torch.optim.SGD(lr=torch_lr, momentum=torch_momentum)``, by default
    ``minidl.optim.torch_sgd_lr(eta, beta)``, ``momentum = beta`` (the equivalent form). Passing another
    ``torch_lr`` shows what a wrong translation of the momentum does. ``model`` is not changed.

    Shape:
        - ``x``: ``(N, 2)``; ``y``: ``(N,)`` labels or ``(N, 2)`` one-hot targets.
        - output: ``(steps,)``, float64.

    Parameters:
        - ``steps``: SGD steps, one sample each, in the order of ``randperm(N, generator)``
          epoch after epoch.
        - ``step_size``, ``momentum``: minidl's eta and beta; ``loss``: ``'mse'`` or ``'elementwise'``.
        - ``torch_lr``, ``torch_momentum``: what torch gets instead of the equivalent form.
    """
    check_int(steps, "steps", 1)
    ours = copy.deepcopy(model)
    net = torch_twin(ours)
    lr = torch_sgd_lr(step_size, momentum) if torch_lr is None else torch_lr
    optimizer = torch.optim.SGD(net.parameters(), lr=lr,
                                momentum=momentum if torch_momentum is None else torch_momentum)
    sgd = SGD(ours.param(), momentum)
    ours_loss, their_loss = resolve_loss(loss), torch_loss(loss)
    t = as_targets(y, ours.out_features, ours.dtype)
    n = x.shape[0]
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-steps // n))])
    differences = torch.empty(steps, dtype=torch.float64)
    for k in range(steps):
        xb, tb = x[order[k]].unsqueeze(0), t[order[k]].unsqueeze(0)
        ours.zero_grad()
        ours.backward(ours_loss.compute_grad(ours.forward(xb), tb))
        sgd.step(step_size)
        optimizer.zero_grad()
        their_loss(net(xb), tb).backward()
        optimizer.step()
        differences[k] = max_weight_difference(ours, net)
    return differences


# --- smoothness of a learning curve ---------------------------------------------------------------

def _curve(curve, name: str) -> torch.Tensor:
    values = torch.as_tensor(curve, dtype=torch.float64)
    if values.dim() != 1 or values.numel() < 3:
        raise ValueError(f"{name}: expected a 1-d curve of at least 3 values (one per epoch), "
                         f"got shape {tuple(values.shape)}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name}: expected finite values, the curve holds NaN or infinity")
    return values


def total_variation(curve: Sequence[float]) -> float:
    r"""Total variation :math:`\sum_e |L_{e+1} - L_e|`: the length of the path the curve travels
    up and down. A monotone curve has ``|L_last - L_first|``; every wiggle adds twice its height.

    Shape:
        - ``curve``: ``(E,)``, one finite value per epoch, E >= 3.
    """
    return float(_curve(curve, "total_variation").diff().abs().sum())


def fraction_of_increases(curve: Sequence[float]) -> float:
    """Fraction of epochs after which the value goes *up* (``L_{e+1} > L_e``): 0 for a loss curve
    that only decreases, about 1/2 for noise. Shape: ``curve`` ``(E,)``, as ``total_variation``."""
    return float((_curve(curve, "fraction_of_increases").diff() > 0).double().mean())


def mean_abs_second_difference(curve: Sequence[float]) -> float:
    r"""Mean of :math:`|L_{e+1} - 2 L_e + L_{e-1}|`: zero on a straight line, large on a zig-zag.
    Shape: ``curve`` ``(E,)``, as ``total_variation``."""
    return float(_curve(curve, "mean_abs_second_difference").diff(n=2).abs().mean())


def smoothness(curve: Sequence[float]) -> dict[str, float]:
    """``total_variation``, ``fraction_of_increases`` and ``mean_abs_second_difference`` of one
    curve ``(E,)`` (smaller is smoother), keyed by those names."""
    return {"total_variation": total_variation(curve),
            "fraction_of_increases": fraction_of_increases(curve),
            "mean_abs_second_difference": mean_abs_second_difference(curve)}


# --- timing ---------------------------------------------------------------------------------------

def seconds_per_epoch(train_one_epoch: Callable[[], object], repeats: int = 3) -> float:
    """The median wall time, in seconds, of ``repeats`` calls of ``train_one_epoch()``, run on
    one thread (``torch_threads(1)``)."""
    check_int(repeats, "repeats", 1)
    times = []
    with torch_threads(1):
        for _ in range(repeats):
            start = time.perf_counter()
            train_one_epoch()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_minidl_and_torch(model: Sequential, x, y, x_validation, y_validation, *, repeats: int = 3,
                          step_size: float = 0.01, loss: str = "elementwise") -> dict[str, float]:
    """Seconds per epoch of per-sample SGD (plus the per-epoch metrics on both sets) for minidl's
    ``fit`` (the plain loop and the fast engine) and for ``fit_torch`` on its twin, timed in turn
    in the same process, one thread. Copies of ``model`` are trained; ``model`` is not changed.

    Shape:
        - ``x``, ``x_validation``: ``(N, 2)``; ``y``, ``y_validation``: ``(N,)`` labels.

    Returns:
        ``{'minidl': seconds, 'minidl fast': seconds, 'torch': seconds}``, each the median of
        ``repeats`` epochs (``'minidl'``: ``engine='plain'``, ``'minidl fast'``: ``engine='fast'``).
    """
    check_int(repeats, "repeats", 1)
    plain, fast = copy.deepcopy(model), copy.deepcopy(model)
    net = torch_twin(plain)
    kw = dict(epochs=1, step_size=step_size, decay=1.0, loss=loss)
    times = {"minidl": [], "minidl fast": [], "torch": []}
    for r in range(repeats):
        times["minidl"].append(seconds_per_epoch(lambda: plain.fit(x, y, x_validation, y_validation, seed=r, **kw), 1))
        times["minidl fast"].append(seconds_per_epoch(
            lambda: fast.fit(x, y, x_validation, y_validation, seed=r, engine="fast", **kw), 1))
        times["torch"].append(seconds_per_epoch(lambda: fit_torch(net, x, y, x_validation, y_validation, seed=r, **kw), 1))
    return {k: statistics.median(v) for k, v in times.items()}


# --- many runs ------------------------------------------------------------------------------------

def train_configs(seeds: Sequence[int] | dict[str, Sequence[int]],
                  factories: dict[str, Callable[..., Sequential]], *, n_train: int = 1000,
                  n_validation: int = 1000, dtype: torch.dtype = torch.float32,
                  progress: int | None = None, **fit_kw) -> dict[str, list[History]]:
    """Train one run per seed for every model factory, all in one stacked ``fit_runs`` call.

    Run (name, seed) draws its data, weights and shuffling from ``seed`` alone (``make_run``), so
    two factories with the same seed see the same data and the same sample order.

    Parameters:
        - ``seeds``: one list for every factory, or a dict giving each name its own list.
        - ``factories``: name -> model factory (``paper_model``, ``torch_init_model``, ...).
        - ``n_train``, ``n_validation``, ``dtype``: each run's data sets.
        - ``progress``: print the mean metrics every so many epochs (``progress_printer``);
          ``None``: silent.
        - ``fit_kw``: to ``fit_runs`` (epochs, step_size, decay, loss, momentum, batch_size);
          the runs train through the fast engine (``engine='fast'``, the plain ``fit``'s numbers
          bit for bit) unless ``fit_kw`` says otherwise.

    Returns:
        ``{name: [one History per seed]}``.
    """
    per_name = seeds if isinstance(seeds, dict) else {name: seeds for name in factories}
    if not factories or set(per_name) != set(factories) or not all(per_name.values()):
        raise ValueError(f"train_configs: expected at least one factory and a non-empty seed list for each, "
                         f"got factories {sorted(factories)} and seeds for {sorted(per_name)}")
    plan = [(name, s) for name in factories for s in per_name[name]]
    generators, data, stacked, _ = stack_runs([make_run(s, factories[name], n_train, n_validation, dtype=dtype)
                                               for name, s in plan])
    if progress is not None:
        fit_kw["callback"] = progress_printer(", ".join(factories), fit_kw.get("epochs", 100), progress)
    histories = fit_runs(stacked, *data, generator=generators, **{"engine": "fast", **fit_kw})
    out: dict[str, list[History]] = {name: [] for name in factories}
    for (name, _), history in zip(plan, histories):
        out[name].append(history)
    return out


def final_values(histories: Sequence[History]) -> dict[str, list[float]]:
    """The last epoch's value of every metric: ``{metric: [one float per History]}``."""
    if not histories:
        raise ValueError("final_values: expected at least one History, got none")
    return {k: [h.history[k][-1] for h in histories] for k in histories[0].history}


def epochs_to_reach(histories: Sequence[History], threshold: float, key: str = "val_accuracy") -> list[int | None]:
    """For each run, the first epoch (counted from 1) at which ``key`` reaches ``threshold``;
    ``None`` if it never does."""
    out = []
    for h in histories:
        out.append(next((e + 1 for e, v in enumerate(h.history[key]) if v >= threshold), None))
    return out


def mean_curve(histories: Sequence[History], key: str) -> list[float]:
    """The mean over the runs of metric ``key`` at each epoch: a list of E floats."""
    return torch.tensor([h.history[key] for h in histories], dtype=torch.float64).mean(0).tolist()


def describe_runs(histories: Sequence[History], thresholds: Sequence[float] = (0.95, 0.97)) -> dict[str, float]:
    """One row of an ablation table, over the runs.

    Returns:
        ``val_accuracy``, ``val_accuracy_std``: the final validation accuracy (mean, sample std);
        ``val_accuracy_last10``: its mean over the last 10 epochs (less sensitive to the last
        step's noise); ``loss``: the mean final training loss; ``epochs_to_<threshold>``: the
        median epoch at which the validation accuracy first reaches each threshold (``inf``
        when more than half the runs never do); ``total_variation``, ``fraction_of_increases``:
        the mean smoothness of the training-loss curves; ``val_accuracy_total_variation``: the
        mean total variation of the validation-accuracy curves.
    """
    summary = summarise(final_values(histories))
    last10 = torch.tensor([h.history["val_accuracy"][-10:] for h in histories], dtype=torch.float64)
    row = {"val_accuracy": summary["val_accuracy"]["mean"], "val_accuracy_std": summary["val_accuracy"]["std"],
           "val_accuracy_last10": float(last10.mean()), "loss": summary["loss"]["mean"]}
    for threshold in thresholds:
        reached = [math.inf if e is None else e for e in epochs_to_reach(histories, threshold)]
        row[f"epochs_to_{threshold:g}"] = float(statistics.median(reached))
    for k in ("total_variation", "fraction_of_increases"):
        row[k] = statistics.mean(smoothness(h.history["loss"])[k] for h in histories)
    row["val_accuracy_total_variation"] = statistics.mean(total_variation(h.history["val_accuracy"])
                                                          for h in histories)
    return row


# --- batch gradient descent -----------------------------------------------------------------------

def batch_size_sweep(batch_sizes: Sequence[int], seeds: Sequence[int], *, epochs: int = 100,
                     step_size: float = 0.01, decay: float = 0.9, loss: str = "mse",
                     timing_repeats: int = 2, n_train: int = 1000,
                     model_factory: Callable[..., Sequential] = paper_model,
                     reuse: dict[int, Sequence[History]] | None = None) -> list[dict[str, float]]:
    """Batch gradient descent for each batch size: one row per batch size with the number of
    gradient steps per epoch and in total, the seconds per epoch (one model, one thread) and the
    mean and std over ``seeds`` of the final training and validation accuracy.

    Every batch size gets the same number of *epochs*, hence ``ceil(n_train / B)`` times fewer
    gradient steps for batch size B: each step uses the mean gradient of B samples.
    Parameters:
        - ``batch_sizes``: each from 1 to ``n_train``; ``seeds``: the runs of each.
        - ``epochs``, ``step_size``, ``decay``, ``loss``: as in ``Sequential.fit``.
        - ``timing_repeats``: epochs timed (the median is reported); ``model_factory``: the model.
        - ``reuse``: batch size -> histories already trained with exactly this configuration
          and these seeds (say batch size 1 from another experiment): not trained again.

    Returns:
        One dict per batch size: ``batch_size``, ``steps_per_epoch``, ``steps``,
        ``seconds_per_epoch``, ``accuracy``, ``accuracy_std``, ``val_accuracy``, ``val_accuracy_std``.
    """
    rows = []
    for b in batch_sizes:
        check_int(b, "batch_size", 1, n_train)
        if reuse and b in reuse:
            histories = list(reuse[b])
            if len(histories) != len(seeds) or len(histories[0].history["loss"]) != epochs:
                raise ValueError(f"reuse[{b}]: expected {len(seeds)} histories of {epochs} epochs, got "
                                 f"{len(histories)} of {len(histories[0].history['loss']) if histories else 0}")
        else:
            histories = train_configs(seeds, {"model": model_factory}, n_train=n_train, epochs=epochs,
                                      step_size=step_size, decay=decay, loss=loss, batch_size=b)["model"]
        g, (x, y, xv, yv), model = make_run(seeds[0], model_factory, n_train)
        seconds = seconds_per_epoch(lambda: model.fit(x, y, xv, yv, epochs=1, batch_size=b,
                                                      step_size=step_size, loss=loss, generator=g),
                                    timing_repeats)
        summary = summarise(final_values(histories))
        steps = -(-n_train // b)
        rows.append({"batch_size": b, "steps_per_epoch": steps, "steps": steps * epochs,
                     "seconds_per_epoch": seconds,
                     "accuracy": summary["accuracy"]["mean"], "accuracy_std": summary["accuracy"]["std"],
                     "val_accuracy": summary["val_accuracy"]["mean"],
                     "val_accuracy_std": summary["val_accuracy"]["std"]})
    return rows


# --- tables beside the paper's ---------------------------------------------------------------------

def write_table(histories: Sequence[History], paper: dict[str, tuple[float, float]],
                md_path: str | os.PathLike, json_path: str | os.PathLike, *, title: str,
                config: dict[str, object], seeds: Sequence[int]) -> dict[str, dict[str, float]]:
    """Write the table of ``histories`` (mean ± std of the final metrics) beside ``paper`` to
    ``md_path`` and, with every run's values and the configuration, to ``json_path``.

    Parameters:
        - ``paper``: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` -> the paper's (mean, std).
        - ``title``: the table's bold title; ``config``, ``seeds``: recorded in the JSON.

    Returns:
        The summary, ``{metric: {'mean': float, 'std': float}}``.
    """
    final = final_values(histories)
    summary = summarise(final)
    markdown = "\n".join([f"**{title}**", "", *paper_table(summary, paper)]) + "\n"
    record = {"title": title, "config": config, "seeds": list(seeds), "summary": summary,
              "paper": {k: {"mean": v[0], "std": v[1]} for k, v in paper.items()},
              "runs": final}
    write_table_files(markdown, record, md_path, json_path)
    return summary
