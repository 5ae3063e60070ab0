"""The pictures the notebooks, the figures command and the playground share (matplotlib), and
the one measure of the true circle they need besides ``minidl.utils.CENTRE`` and ``RADIUS``."""
from __future__ import annotations

import matplotlib.patches as patches
import torch

from ..utils import CENTRE, RADIUS

CLASS_COLOURS = ("tab:blue", "tab:orange")     # label 0 (outside), label 1 (inside the disk)


def distance_to_boundary(x: torch.Tensor) -> torch.Tensor:
    r"""Distance of each point to the true circle: :math:`|\,\lVert x - c \rVert - r\,|`, with
    ``c = CENTRE`` and ``r = RADIUS`` (``minidl.utils``, where ``build_data`` labels the points).

    Shape:
        - input ``x``: ``(..., 2)``
        - output: ``(...)``, the dtype of ``x``
    """
    return ((x - torch.tensor(CENTRE, dtype=x.dtype)).norm(dim=-1) - RADIUS).abs()


def draw_circle(ax, **style) -> None:
    """Draw the true boundary, the circle of centre ``CENTRE`` and radius ``RADIUS``, on ``ax``
    over the unit square (equal aspect).

    Parameters:
        - ``ax``: a matplotlib ``Axes``.
        - ``style``: ``matplotlib.patches.Circle`` options over the defaults (a black line,
          labelled "true boundary").
    """
    style = {"fill": False, "color": "black", "linewidth": 1.5, "label": "true boundary", **style}
    ax.add_patch(patches.Circle(CENTRE, RADIUS, **style))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def plot_data(ax, x: torch.Tensor, y: torch.Tensor, title: str = "", size: float = 6) -> None:
    """Scatter the points of a data set on ``ax``, coloured by label, with the true circle.

    Shape:
        - ``x``: ``(N, 2)``; ``y``: ``(N,)`` labels 0 or 1.

    Parameters:
        - ``title``: the axes' title; ``size``: the marker size.
    """
    for label, colour in enumerate(CLASS_COLOURS):
        pts = x[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=colour, label=f"label {label} ({len(pts)})")
    draw_circle(ax)
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def decision_grid(model, resolution: int = 200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model's predicted label at every point of a regular grid over [0, 1]^2.

    Shape:
        - output: ``(gx, gy, labels)``, each ``(resolution, resolution)``: the grid's
          coordinates (``meshgrid``, ``indexing='xy'``) and ``model.predict`` there.
    """
    gx, gy, points = unit_grid(resolution, model.dtype)
    return gx, gy, model.predict(points).reshape(resolution, resolution)


def unit_grid(resolution: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A regular ``resolution`` x ``resolution`` grid over [0, 1]^2.

    Shape:
        - output: ``(gx, gy, points)``: the coordinates ``(resolution, resolution)`` each
          (``meshgrid``, ``indexing='xy'``) and the same points as rows, ``(resolution**2, 2)``.
    """
    ticks = torch.linspace(0, 1, resolution, dtype=dtype)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    return gx, gy, torch.stack([gx.flatten(), gy.flatten()], dim=1)


def plot_misclassified(ax, model, x: torch.Tensor, y: torch.Tensor, title: str = "") -> int:
    """Scatter the points on ``ax``, grey where ``model.predict`` is right and red where it is
    wrong, with the true circle and a legend.

    Shape:
        - ``x``: ``(N, 2)``; ``y``: ``(N,)`` labels.

    Returns:
        The number of misclassified points.
    """
    wrong = model.predict(x) != y
    ax.scatter(x[~wrong, 0], x[~wrong, 1], s=5, color="grey", label="correct")
    ax.scatter(x[wrong, 0], x[wrong, 1], s=14, color="red", label=f"misclassified ({int(wrong.sum())})")
    draw_circle(ax)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return int(wrong.sum())


def plot_decision_regions(ax, model, x: torch.Tensor, y: torch.Tensor, title: str = "") -> int:
    """The model's decision regions (``decision_grid``, shaded by label) under
    ``plot_misclassified``'s points and circle: the same arguments, the same count returned."""
    gx, gy, regions = decision_grid(model)
    ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], colors=CLASS_COLOURS, alpha=0.2)
    return plot_misclassified(ax, model, x, y, title)


def plot_curves(axes, history: dict[str, list[float]], label: str = "") -> None:
    """Plot the loss on ``axes[0]`` and the accuracy on ``axes[1]`` per epoch, training and
    validation (the keys of ``History.history`` that are present and not empty).

    Parameters:
        - ``axes``: two matplotlib ``Axes``.
        - ``history``: ``'loss'``, ``'accuracy'``, ``'val_loss'``, ``'val_accuracy'`` -> one
          value per epoch.
        - ``label``: a prefix for the legend's entries (to overlay several runs).
    """
    prefix = f"{label} " if label else ""
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, name in ((metric, "training"), ("val_" + metric, "validation")):
            if history.get(key):
                epochs = range(1, len(history[key]) + 1)
                ax.plot(epochs, history[key], label=f"{prefix}{name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MSE" if metric == "loss" else "accuracy")
        ax.legend()
