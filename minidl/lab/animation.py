"""Watch a network learn (notebook 04): its decision regions after 0, 1, 3, 10, 50 epochs.

- ``train_with_snapshots``: ``model.fit`` with a callback that keeps a copy of the weights
  after every epoch (and before the first): the training itself is exactly ``fit``'s;
- ``plot_snapshots``: the decision regions of chosen snapshots as small multiples;
- ``write_gif``: every snapshot as one frame of a GIF (matplotlib's ``PillowWriter``), for the
  README, where GitHub shows no widgets.

A snapshot is a ``state_dict`` (1,427 numbers for the paper's network), so keeping one per
epoch costs nothing; the pictures are drawn afterwards by loading each one into the model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.animation import PillowWriter

from ..sequential import Sequential
from ..training import History
from .plots import CLASS_COLOURS, decision_grid, draw_circle


def train_with_snapshots(model: Sequential, x: torch.Tensor, y: torch.Tensor, *args,
                         **fit_kwargs) -> tuple[History, list[dict[str, torch.Tensor]]]:
    """Train ``model`` with ``model.fit(x, y, *args, **fit_kwargs)``, copying its weights
    before the first epoch and after every epoch (``fit``'s ``callback``).

    The model ends trained exactly as ``fit`` alone would leave it: the copies draw no random
    numbers. A ``callback`` of your own is refused (TypeError): this function uses it.

    Returns:
        ``(history, snapshots)``: ``fit``'s ``History``, and ``epochs + 1`` state dicts,
        ``snapshots[e]`` the weights after ``e`` epochs (``snapshots[0]`` the initial ones).
    """
    if "callback" in fit_kwargs:
        raise TypeError("train_with_snapshots: callback is taken (it records the snapshots); "
                        "call model.fit yourself to pass one")
    snapshots = [copy_state(model)]
    history = model.fit(x, y, *args, callback=lambda epoch, logs: snapshots.append(copy_state(model)),
                        **fit_kwargs)
    return history, snapshots


def copy_state(model: Sequential) -> dict[str, torch.Tensor]:
    """``model.state_dict()``: its tensors are copies already, which later training does not change."""
    return model.state_dict()


def draw_regions(ax, model: Sequential, x: torch.Tensor, y: torch.Tensor, title: str = "",
                 resolution: int = 100) -> float:
    """Draw on ``ax`` the model's decision regions over [0, 1]^2 (``plots.decision_grid``),
    its misclassified points of (x, y) in red and the true circle, without ticks: one panel
    of a small multiple, or one frame of the GIF.

    Shape:
        - ``x``: ``(N, 2)``; ``y``: ``(N,)`` labels.

    Returns:
        The accuracy of ``model`` on (x, y), a float.
    """
    gx, gy, regions = decision_grid(model, resolution)
    ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], colors=CLASS_COLOURS, alpha=0.35)
    wrong = model.predict(x) != y
    ax.scatter(x[wrong, 0], x[wrong, 1], s=4, color="red", linewidths=0)
    draw_circle(ax, linewidth=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return 1.0 - wrong.float().mean().item()


def plot_snapshots(model: Sequential, snapshots: Sequence[dict[str, torch.Tensor]], epochs: Sequence[int],
                   x: torch.Tensor, y: torch.Tensor, path: str | Path | None = None, points: str = "points"):
    """The decision regions after the chosen epochs, side by side (``draw_regions`` per panel,
    its accuracy in the title).

    Parameters:
        - ``model``: a container of the right architecture; its weights are put back as they were.
        - ``snapshots``: ``train_with_snapshots``'s list; ``epochs``: indices into it.
        - ``x``, ``y``: the points whose misclassified ones are drawn, named ``points`` in the
          titles (e.g. ``"test points"``).
        - ``path``: where to save the figure (dpi 100), or None.

    Returns:
        The matplotlib figure.
    """

    for epoch in epochs:
        if not 0 <= epoch < len(snapshots):
            raise ValueError(f"plot_snapshots epochs: expected epochs between 0 and {len(snapshots) - 1} "
                             f"(one snapshot per epoch), got {epoch}")
    kept = copy_state(model)
    fig, axes = plt.subplots(1, len(epochs), figsize=(2.4 * len(epochs), 2.9), layout="constrained")
    for ax, epoch in zip(axes if len(epochs) > 1 else [axes], epochs):
        model.load_state_dict(snapshots[epoch])
        accuracy = draw_regions(ax, model, x, y)
        ax.set_title(f"epoch {epoch}\naccuracy {accuracy:.3f}", fontsize=9)
    model.load_state_dict(kept)
    fig.suptitle(f"decision regions (blue: label 0, orange: label 1); misclassified {points} in red, "
                 f"accuracy on the {points}")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def write_gif(path: str | Path, model: Sequential, snapshots: Sequence[dict[str, torch.Tensor]],
              x: torch.Tensor, y: torch.Tensor, fps: int = 6, dpi: int = 60, resolution: int = 100) -> int:
    """Write an animated GIF at ``path`` with matplotlib's ``PillowWriter``: one frame per
    snapshot (``draw_regions`` after 0, 1, 2, ... epochs), the last one held for a second.
    Rendering is deterministic, so the same snapshots give the same bytes.

    Parameters:
        - ``model``: a container of the right architecture; its weights are put back as they were.
        - ``snapshots``: ``train_with_snapshots``'s list; ``x``, ``y``: the points drawn.
        - ``fps``: frames per second; ``dpi`` and ``resolution`` (the decision grid's points
          per side) set the size of the file (0.16 MB for 57 frames at the defaults).

    Returns:
        The number of frames written.
    """

    if len(snapshots) == 0:
        raise ValueError("write_gif snapshots: expected at least one snapshot, got none")
    kept = copy_state(model)
    fig, ax = plt.subplots(figsize=(3.2, 3.4), layout="constrained")
    writer = PillowWriter(fps=fps)
    frames = list(range(len(snapshots))) + [len(snapshots) - 1] * fps      # hold the last frame
    with writer.saving(fig, str(path), dpi):
        for epoch in frames:
            ax.clear()
            model.load_state_dict(snapshots[epoch])
            accuracy = draw_regions(ax, model, x, y, resolution=resolution)
            ax.set_title(f"epoch {epoch:3d}: accuracy {accuracy:.3f}", fontsize=9, family="monospace")
            writer.grab_frame()
    plt.close(fig)
    model.load_state_dict(kept)
    return len(frames)
