"""The pictures the notebooks, the figures command and the playground share (matplotlib)."""
from __future__ import annotations

import matplotlib.patches as patches
import torch

from ..utils import CENTRE, RADIUS

CLASS_COLOURS = ("tab:blue", "tab:orange")     # label 0 (outside), label 1 (inside the disk)


def draw_circle(ax, **style) -> None:
    """The true boundary: the circle of centre (0.5, 0.5) and radius 1/sqrt(2 pi)."""
    style = {"fill": False, "color": "black", "linewidth": 1.5, "label": "true boundary", **style}
    ax.add_patch(patches.Circle(CENTRE, RADIUS, **style))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def plot_data(ax, x: torch.Tensor, y: torch.Tensor, title: str = "", size: float = 6) -> None:
    """The points of a data set coloured by label, with the true circle."""
    for label, colour in enumerate(CLASS_COLOURS):
        pts = x[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=colour, label=f"label {label} ({len(pts)})")
    draw_circle(ax)
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def decision_grid(model, resolution: int = 200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model's predicted label on a ``resolution`` x ``resolution`` grid over [0, 1]^2."""
    ticks = torch.linspace(0, 1, resolution, dtype=model.dtype)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], dim=1)
    return gx, gy, model.predict(grid).reshape(resolution, resolution)


def plot_decision_regions(ax, model, x: torch.Tensor, y: torch.Tensor, title: str = "") -> int:
    """Decision regions, the points (misclassified ones in red) and the true circle.

    Returns the number of misclassified points.
    """
    gx, gy, regions = decision_grid(model)
    ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], colors=CLASS_COLOURS, alpha=0.2)
    wrong = model.predict(x) != y
    ax.scatter(x[~wrong, 0], x[~wrong, 1], s=5, color="grey", label="correct")
    ax.scatter(x[wrong, 0], x[wrong, 1], s=14, color="red", label=f"misclassified ({int(wrong.sum())})")
    draw_circle(ax)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return int(wrong.sum())


def plot_curves(axes, history: dict[str, list[float]], label: str = "") -> None:
    """Loss on ``axes[0]`` and accuracy on ``axes[1]``, training and validation, per epoch."""
    prefix = f"{label} " if label else ""
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, name in ((metric, "training"), ("val_" + metric, "validation")):
            if history.get(key):
                epochs = range(1, len(history[key]) + 1)
                ax.plot(epochs, history[key], label=f"{prefix}{name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MSE" if metric == "loss" else "accuracy")
        ax.legend()
