"""The reproduction of the paper's Section VI-A (notebook 04): Fig. 1, Fig. 2 and Fig. 3.

This module is *not* part of the framework; it holds the experiment logic that notebook 04
runs, so that it is tested (``tests/test_experiments.py``) and the notebook stays short:

- ``run_fig1``: the Fig. 1 experiment, R independent runs (new data, new weights, own
  shuffling per seed) trained at once with ``minidl.runs``; each run's final MSE under both
  conventions and its accuracy, on the training and the validation set;
- ``within_one_std``, ``mse_grid``, ``matching_convention``: how the mean ± std over the runs
  (``tables.summarise``) compares with the paper's table;
- ``fig1_markdown``, ``write_fig1``: the table beside the paper's, as ``figures/fig1_table.md``
  and ``figures/fig1_table.json`` (every run's numbers, the seeds and the configuration);
- ``plot_fig2``, ``plot_fig3``: the learning curves of one run, its misclassified test points
  and decision regions, as ``figures/fig2_sgd_curves.png`` and ``figures/fig3_misclassified.png``.

The two loss conventions (``minidl.losses``): ``'mse'`` is the paper's Section III formula,
the squared distance summed over the 2 outputs; ``'elementwise'`` is the mean over the 2
outputs (``torch.nn.MSELoss``), half of it. The convention changes the gradient, hence the
training, not only the reported number: every run records its final loss under both.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import paper_model
from .._checks import check_int
from ..losses import LOSSES
from .plots import CLASS_COLOURS, plot_curves, plot_decision_regions, plot_misclassified, unit_grid
from .tables import paper_table, summarise, write_table_files
from ..runs import fit_runs, paper_runs, unstack_model
from ..sequential import Sequential
from ..training import History, metrics
from ..utils import as_targets

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES = REPO_ROOT / "figures"
COMMAND = "python -m minidl.lab.reproduce"          # regenerates every file in figures/

#: The paper's Fig. 1 (100 epochs, lr = 0.01, 30 runs): (mean, std) of the final values.
PAPER_FIG1: dict[str, tuple[float, float]] = {
    "loss": (0.04256, 0.00469), "accuracy": (0.9852, 0.0057),
    "val_loss": (0.04013, 0.00455), "val_accuracy": (0.9858, 0.0068),
}
CONVENTIONS = ("mse", "elementwise")
CONVENTION_NAMES = {"mse": "paper's formula (sum over the 2 outputs)",
                    "elementwise": "per-element mean (torch.nn.MSELoss)"}


@dataclass
class Fig1Runs:
    """The outcome of ``run_fig1``: one training convention, R runs.

    Shape:
        - ``data``: the stacked ``(x_train, y_train, x_validation, y_validation[, x_test,
          y_test])``, ``x`` ``(R, N, 2)`` and ``y`` ``(R, N)``.

    Parameters:
        - ``loss``: the convention trained with; ``seeds``: one per run; ``config``: the
          hyperparameters, as written to ``fig1_table.json``.
        - ``final``: ``'mse'``, ``'elementwise'``, ``'accuracy'`` and their ``'val_'`` forms ->
          one float per run (the final model's values; the MSE under both conventions,
          whichever was trained).
        - ``histories``: each run's per-epoch curves (loss in the trained convention).
        - ``model``: the stacked trained model (``runs=R``); ``seconds``: the wall time.
    """

    loss: str
    seeds: list[int]
    config: dict[str, object]
    final: dict[str, list[float]]
    histories: list[History] = field(repr=False)
    model: Sequential = field(repr=False)
    data: tuple[torch.Tensor, ...] = field(repr=False)
    seconds: float = 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample std over the runs of every entry of ``final`` (``tables.summarise``)."""
        return summarise(self.final)

    def table(self, measure: str | None = None) -> dict[str, dict[str, float]]:
        """The summary keyed as the paper's table (``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``), the MSE measured in ``measure`` (default: the trained convention).

        Returns:
            ``{key: {'mean': float, 'std': float}}`` for the four keys.
        """
        measure = _check_convention(measure or self.loss, "measure")
        s = self.summary()
        return {"loss": s[measure], "accuracy": s["accuracy"],
                "val_loss": s["val_" + measure], "val_accuracy": s["val_accuracy"]}

    def run_model(self, run: int) -> Sequential:
        """Run ``run`` (0 to R - 1) of the trained stacked model, as a single-run ``paper_model``."""
        check_int(run, "run", 0, len(self.seeds) - 1)
        return unstack_model(self.model, run, paper_model(dtype=self.model.dtype))


def _check_convention(loss, name: str = "loss") -> str:
    if loss not in CONVENTIONS:
        raise ValueError(f"{name}: expected one of {list(CONVENTIONS)}, got {loss!r}")
    return loss


def final_metrics(model: Sequential, x: torch.Tensor, y: torch.Tensor, prefix: str = "") -> dict[str, list[float]]:
    """The MSE under both conventions and the accuracy of a stacked model on ``(x, y)``.

    Shape:
        - ``x``: ``(R, N, 2)``; ``y``: ``(R, N)`` labels or ``(R, N, 2)`` one-hot targets.

    Returns:
        ``{prefix + 'mse': [R floats], prefix + 'elementwise': [...], prefix + 'accuracy': [...]}``.
    """
    t = as_targets(y, model.out_features, model.dtype)
    out: dict[str, list[float]] = {}
    for name in CONVENTIONS:
        value, accuracy = metrics(model, x, t, LOSSES[name])
        out[prefix + name] = value.tolist()
    out[prefix + "accuracy"] = accuracy.tolist()
    return out


def progress_printer(label: str, epochs: int, every: int = 10, print_fn: Callable[[str], None] = print):
    """A ``fit`` callback that prints, every ``every`` epochs and after the last, the mean over
    the runs of each metric (through ``print_fn``), so that a long training cell shows where it
    is. No times: the printed lines are the same at every execution of a notebook."""
    def callback(epoch: int, logs: dict[str, torch.Tensor]) -> None:
        if (epoch + 1) % every and epoch + 1 != epochs:
            return
        parts = [f"{k} {float(v.mean()):.4f}" for k, v in logs.items()]
        print_fn(f"  [{label}] epoch {epoch + 1:3d}/{epochs}: mean over runs {', '.join(parts)}")
    return callback


def run_fig1(seeds: Sequence[int], *, loss: str = "elementwise", epochs: int = 100,
             step_size: float = 0.01, decay: float = 0.9, n_train: int = 1000,
             n_validation: int = 1000, n_test: int = 1000, progress: int | None = 10,
             dtype: torch.dtype = torch.float32) -> Fig1Runs:
    """The Fig. 1 experiment: one independent run of the paper's training per seed.

    Run r draws from ``torch.Generator().manual_seed(seeds[r])`` its training, validation and
    test sets, its U[-1, 1] weights and its shuffling (``minidl.runs.make_run``); all runs then
    train at once (``fit_runs``), per-sample SGD with the step size multiplied by ``decay``
    after each epoch, through the fast engine (``engine='fast'``: the plain ``fit``'s numbers
    bit for bit, several times sooner).

    Parameters:
        - ``seeds``: distinct non-negative ints, one per run.
        - ``loss``: the convention trained with, ``'mse'`` or ``'elementwise'``.
        - ``epochs``, ``step_size``, ``decay``: as in ``Sequential.fit``.
        - ``n_train``, ``n_validation``, ``n_test``: the sizes of each run's three data sets.
        - ``progress``: print the mean metrics every so many epochs (``None``: silent).
        - ``dtype``: of the data and the weights.

    Returns:
        A ``Fig1Runs``.
    """
    loss = _check_convention(loss)
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds: expected a non-empty list of non-negative ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: expected distinct seeds (independent runs), got {seeds!r}")
    start = time.perf_counter()
    generators, data, stacked, _ = paper_runs(seeds, paper_model, n_train, n_validation, n_test, dtype)
    callback = None if progress is None else progress_printer(loss, epochs, progress)
    histories = fit_runs(stacked, *data[:4], epochs=epochs, step_size=step_size, decay=decay,
                         loss=loss, generator=generators, callback=callback, engine="fast")
    final = {**final_metrics(stacked, data[0], data[1]), **final_metrics(stacked, data[2], data[3], "val_")}
    config = {"model": "2-25-25-25-2, ReLU, ReLU, Tanh, U[-1, 1] init", "loss": loss,
              "optimizer": "per-sample SGD", "epochs": epochs, "step_size": step_size,
              "decay": decay, "n_train": n_train, "n_validation": n_validation,
              "n_test": n_test, "dtype": str(dtype).replace("torch.", "")}
    return Fig1Runs(loss, seeds, config, final, histories, stacked, data, time.perf_counter() - start)


def within_one_std(table: dict[str, dict[str, float]],
                   paper: dict[str, tuple[float, float]] = PAPER_FIG1) -> dict[str, bool]:
    r"""For each entry of the paper's table: is the reproduced mean within one paper standard
    deviation of the paper's mean, :math:`|m - m_p| \le s_p`?

    Parameters:
        - ``table``: ``{key: {'mean': ..., 'std': ...}}`` (``Fig1Runs.table``).
        - ``paper``: ``{key: (mean, std)}``, the paper's.

    Returns:
        ``{key: bool}`` for every key of ``paper``.
    """
    return {k: abs(table[k]["mean"] - m) <= s for k, (m, s) in paper.items()}


def distance_in_paper_std(table: dict[str, dict[str, float]],
                          paper: dict[str, tuple[float, float]] = PAPER_FIG1) -> dict[str, float]:
    r""":math:`(m - m_p) / s_p`, the reproduced mean's distance to the paper's in paper standard
    deviations, for each key of ``paper`` (arguments as in ``within_one_std``)."""
    return {k: (table[k]["mean"] - m) / s for k, (m, s) in paper.items()}


def mse_grid(results: dict[str, Fig1Runs]) -> list[dict[str, object]]:
    """Every (trained with, measured with) pair of conventions: the mean training and
    validation MSE and their distance to the paper's, in paper standard deviations.

    Returns:
        One dict per pair: ``trained``, ``measured``, ``loss``, ``val_loss``, ``loss_distance``,
        ``val_loss_distance``.
    """
    rows = []
    for trained, result in results.items():
        for measure in CONVENTIONS:
            d = distance_in_paper_std(result.table(measure))
            s = result.summary()
            rows.append({"trained": trained, "measured": measure,
                         "loss": s[measure]["mean"], "val_loss": s["val_" + measure]["mean"],
                         "loss_distance": d["loss"], "val_loss_distance": d["val_loss"]})
    return rows


def matching_convention(results: dict[str, Fig1Runs]) -> tuple[str, str]:
    """The (trained with, measured with) pair whose mean MSEs are closest to the paper's: the
    smallest of the larger of the two distances (training, validation) in paper stds."""
    best = min(mse_grid(results), key=lambda r: max(abs(r["loss_distance"]), abs(r["val_loss_distance"])))
    return best["trained"], best["measured"]


# --- Fig. 1 as files ---------------------------------------------------------------------------

def fig1_markdown(results: dict[str, Fig1Runs], command: str = COMMAND) -> str:
    """The reproduced Fig. 1 beside the paper's: one table per training convention (MSE
    measured as trained), then the grid of every (trained, measured) pair."""
    first = next(iter(results.values()))
    cfg = first.config
    trained, measured = matching_convention(results)
    lines = [f"**Fig. 1: performance of the model ({cfg['epochs']} epochs, lr = {cfg['step_size']}, "
             f"decay {cfg['decay']} per epoch, {len(first.seeds)} runs, new data each run)**", "",
             f"Produced by `{command}` (notebook 04, `minidl.lab.experiments.run_fig1`, seeds "
             f"{first.seeds[0]}..{first.seeds[-1]}). Mean ± sample std over the runs of the final values.", ""]
    for loss, result in results.items():
        table = result.table()
        far = [k for k, within in within_one_std(table).items() if not within]
        lines += [f"Trained and measured with loss='{loss}', the {CONVENTION_NAMES[loss]}"
                  + (" (matches the paper)" if loss == trained == measured else "") + ":", ""]
        lines += paper_table(table, PAPER_FIG1, digits=(5, 4), marked=far)
        lines += ["", "`*`: the reproduced mean is more than one paper std away from the paper's mean.", ""]
    lines += ["Which convention the paper's MSE column matches: mean MSE for each pair (trained with, "
              "measured with), and its distance to the paper's in paper standard deviations.", "",
              "| trained with | measured with | training MSE | (distance) | validation MSE | (distance) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in mse_grid(results):
        lines.append(f"| {row['trained']} | {row['measured']} | {row['loss']:.5f} | {row['loss_distance']:+.1f} "
                     f"| {row['val_loss']:.5f} | {row['val_loss_distance']:+.1f} |")
    lines += ["", f"Closest to the paper: trained with '{trained}', measured with '{measured}'."]
    return "\n".join(lines) + "\n"


def fig1_record(results: dict[str, Fig1Runs], command: str = COMMAND) -> dict[str, object]:
    """Everything behind the Markdown table, for ``fig1_table.json``."""
    trained, measured = matching_convention(results)
    return {
        "title": "Fig. 1: performance of the model (100 epochs, lr = 0.01)",
        "command": command,
        "paper": {k: {"mean": m, "std": s} for k, (m, s) in PAPER_FIG1.items()},
        "matching_convention": {"trained": trained, "measured": measured},
        "conventions": {
            loss: {"config": r.config, "seeds": r.seeds,
                   "table": r.table(), "within_one_paper_std": within_one_std(r.table()),
                   "summary": r.summary(), "runs": r.final}
            for loss, r in results.items()},
        "mse_grid": mse_grid(results),
    }


def write_fig1(results: dict[str, Fig1Runs], directory: str | os.PathLike = FIGURES,
               command: str = COMMAND) -> list[Path]:
    """Write ``fig1_markdown`` to ``directory/fig1_table.md`` and ``fig1_record`` to
    ``directory/fig1_table.json``.

    Returns:
        The two paths.
    """
    if not results or not all(isinstance(r, Fig1Runs) for r in results.values()):
        raise TypeError("write_fig1: expected a non-empty dict {loss: Fig1Runs} from run_fig1")
    directory = Path(directory)
    return write_table_files(fig1_markdown(results, command), fig1_record(results, command),
                             directory / "fig1_table.md", directory / "fig1_table.json")


# --- Fig. 2 and Fig. 3 -------------------------------------------------------------------------

def _save(fig, path: str | os.PathLike | None) -> None:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")


def plot_fig2(history: History | dict[str, list[float]], path: str | os.PathLike | None = None,
              title: str = "Fig. 2: training and validation curves (SGD training)", loss=None):
    """Fig. 2: the loss and the accuracy per epoch, training and validation, of one run.

    Parameters:
        - ``history``: a ``History`` or its ``.history`` dict.
        - ``path``: where to save the PNG (``None``: not saved); ``title``: the figure's.
        - ``loss``: the loss the curves show (``'mse'`` or ``'elementwise'``), named on the loss
          axis; by default a ``History``'s own (``history.params['loss']``).

    Returns:
        The matplotlib figure.
    """
    if isinstance(history, History):
        curves, loss = history.history, history.params["loss"] if loss is None else loss
    elif loss is None:
        raise ValueError("plot_fig2: expected loss='mse' or 'elementwise' with a dict of curves "
                         "(a History says its own), got loss=None")
    else:
        curves = history
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_curves(axes, curves, loss=loss)
    fig.suptitle(title)
    _save(fig, path)
    return fig


def plot_fig3(model: Sequential, x: torch.Tensor, y: torch.Tensor, path: str | os.PathLike | None = None,
              title: str = "Fig. 3: misclassified test samples (red)"):
    """Fig. 3. Left: the test points, misclassified ones in red, with the true circle (the
    paper's figure). Right: the same points over the learned decision regions, with the learned
    boundary (where the two outputs are equal: each is about 0.5 there, since the network was
    trained on one-hot targets) and a legend for the regions' colours.

    Shape:
        - ``x``: ``(N, 2)``; ``y``: ``(N,)`` labels; ``model`` a single-run model.

    Parameters:
        - ``path``: where to save the PNG (``None``: not saved); ``title``: the figure's.

    Returns:
        The matplotlib figure.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
    plot_misclassified(left, model, x, y, title=f"{len(y)} test points and the circle boundary")
    plot_decision_regions(right, model, x, y, title="learned decision regions")
    gx, gy, margin = output_margin(model)
    right.contour(gx, gy, margin, levels=[0.0], colors="green", linewidths=1.5)
    handles, labels = right.get_legend_handles_labels()
    handles += [Patch(color=c, alpha=0.3) for c in CLASS_COLOURS] + [Line2D([], [], color="green")]
    labels += ["predicted 0 (outside)", "predicted 1 (inside)", "learned boundary (outputs equal)"]
    right.legend(handles, labels, loc="upper right", fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    fig.suptitle(title)
    _save(fig, path)
    return fig


def output_margin(model: Sequential, resolution: int = 200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``output[1] - output[0]`` of ``model`` on a grid over [0, 1]^2: positive where it
    predicts label 1; its zero level is the learned boundary.

    Shape:
        - output: ``(gx, gy, margin)``, each ``(resolution, resolution)``, as ``decision_grid``.
    """
    gx, gy, points = unit_grid(resolution, model.dtype)
    out = model.forward(points)
    return gx, gy, (out[:, 1] - out[:, 0]).reshape(resolution, resolution)


def written_since(start: float, directory: str | os.PathLike = FIGURES) -> list[Path]:
    """The files of ``directory`` modified at or after the time ``start`` (``time.time()``)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.stat().st_mtime >= start - 1e-3)


__all__ = ["FIGURES", "PAPER_FIG1", "CONVENTIONS", "Fig1Runs", "run_fig1",
           "within_one_std", "distance_in_paper_std", "mse_grid", "matching_convention",
           "fig1_markdown", "fig1_record", "write_fig1", "plot_fig2", "plot_fig3", "output_margin",
           "written_since", "final_metrics", "progress_printer"]
