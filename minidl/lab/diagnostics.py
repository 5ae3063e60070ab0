r"""Per-layer diagnostics of a network while it trains: how large each layer's activations and
gradients are, and how many ReLU units are dead.

Whether a deep network trains depends on the scale of the signals that cross it: the
activations on the way forward and the gradients :math:`\partial\ell/\partial s^{(l)}` on the
way back. If one of them shrinks or grows from layer to layer, the first layers learn much more
slowly (or much faster) than the last. A ReLU unit whose input is negative for every sample is
*dead*: its gradient is zero; in the first layer, whose input is the data, it never recovers
(deeper, it can revive when the layer before it changes). These functions measure all three, layer by
layer, on a whole data set, so that claims about initialisation can be read off numbers:

- ``layer_statistics(model, x, y)``: one forward and one backward pass (per-element MSE) on
  ``(x, y)``, in evaluation mode, leaving the model's gradients as they were; for every
  ``Linear`` layer, a ``LayerStatistics``;
- ``statistics_while_training(model, x, y, **fit_kw)``: ``fit`` with a callback that records
  ``layer_statistics`` on the training set before the first epoch and after every epoch.

The statistics are root mean squares (RMS), :math:`\sqrt{\text{mean}(v^2)}` over the batch and
the units, the usual scale of a signal in the initialisation literature (Glorot & Bengio 2010).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..layers import Linear, ReLU
from ..losses import ElementwiseMSE
from ..sequential import Sequential
from ..training import check_data, evaluation_mode


class LayerStatistics(NamedTuple):
    r"""What one ``Linear`` layer ``l`` sees on a data set.

    - ``layer``: its position in the model (``'0'``, ``'2'``, ...);
    - ``activation_rms``: RMS of its output after the activation that follows it,
      :math:`x^{(l)}` (of :math:`s^{(l)}` when no activation follows: the output layer);
    - ``gradient_rms``: RMS of :math:`\partial\ell/\partial s^{(l)}`, the gradient that reaches
      its summation (each sample's own, not divided by the batch size);
    - ``weight_gradient_rms``: RMS of the entries of :math:`\partial\ell/\partial w^{(l)}` for the
      mean loss over the data set;
    - ``dead_fraction``: for a ``Linear`` followed by ``ReLU``, the fraction of its units whose
      ReLU output is 0 for every sample; None otherwise.
    """
    layer: str
    activation_rms: float
    gradient_rms: float
    weight_gradient_rms: float
    dead_fraction: float | None


def _rms(t: torch.Tensor) -> float:
    return t.pow(2).mean().sqrt().item()


def layer_statistics(model: Sequential, x: torch.Tensor, y: torch.Tensor) -> list[LayerStatistics]:
    """``LayerStatistics`` of every ``Linear`` of ``model`` on ``(x, y)`` (labels or one-hot
    targets), from one forward and one backward pass of the per-element MSE in evaluation mode.
    The model's stored gradients are put back as they were.

    Raises:
        ``TypeError`` unless ``model`` is a single-run ``Sequential`` of modules (nested ones are
        not looked into); ``ValueError`` for data that do not fit it (as ``fit``'s checks).
    """
    if not isinstance(model, Sequential) or model.runs is not None:
        raise TypeError(f"layer_statistics: expected a single-run Sequential, got {type(model).__name__}")
    x, t = check_data(model, x, y, "")                    # raises, naming what is wrong
    saved = [grad.clone() for _, grad in model.param()]
    outputs, gradients = [], []
    with torch.no_grad(), evaluation_mode(model):
        h = x
        for layer in model.layers:
            h = layer.forward(h)
            outputs.append(h)
        g = ElementwiseMSE.compute_grad(h, t)
        model.zero_grad()
        for layer in reversed(model.layers):
            gradients.append(g)                            # dl/d(output of this layer)
            g = layer.backward(g)
        gradients.reverse()
        statistics = []
        n = x.shape[0]
        for i, layer in enumerate(model.layers):
            if not isinstance(layer, Linear):
                continue
            follows = model.layers[i + 1] if i + 1 < len(model.layers) else None
            after = i + 1 if follows is not None and not isinstance(follows, Linear) else i
            dead = None
            if isinstance(follows, ReLU):
                dead = (outputs[i + 1] <= 0).all(0).to(x.dtype).mean().item()
            statistics.append(LayerStatistics(str(i), _rms(outputs[after]), _rms(gradients[i] * n),
                                              _rms(layer.grad_weight), dead))
        for (_, grad), old in zip(model.param(), saved):
            grad.copy_(old)
    return statistics


def statistics_while_training(model: Sequential, x: torch.Tensor, y: torch.Tensor, *args,
                              **fit_kw) -> tuple[list[list[LayerStatistics]], object]:
    """Train ``model`` with ``model.fit(x, y, *args, **fit_kw)`` and record ``layer_statistics``
    on ``(x, y)`` before the first epoch and after every epoch (``fit``'s callback; recording
    draws no random numbers, so the training is the one ``fit`` alone gives).

    Returns:
        ``(per_epoch, history)``: ``per_epoch[e]`` the statistics after ``e`` epochs (``e = 0``:
        at initialisation), and ``fit``'s ``History``.

    Raises:
        ``TypeError`` if ``fit_kw`` has a ``callback`` (this function's is needed).
    """
    if "callback" in fit_kw:
        raise TypeError("statistics_while_training: callback is taken (it records the statistics)")
    per_epoch = [layer_statistics(model, x, y)]
    history = model.fit(x, y, *args, callback=lambda epoch, logs: per_epoch.append(layer_statistics(model, x, y)),
                        **fit_kw)
    return per_epoch, history


def plot_layer_statistics(axes, per_epoch: list[list[LayerStatistics]], label: str) -> None:
    """Three panels for one training run (``statistics_while_training``): the activation RMS,
    the gradient RMS (log scales) and the dead-ReLU fraction of every layer against the epoch
    (0: at initialisation), one line per layer. ``axes``: three matplotlib axes; ``label``
    names the run in the first panel's title."""
    if len(axes) != 3 or not per_epoch:
        raise ValueError(f"plot_layer_statistics: expected 3 axes and at least one epoch, got {len(axes)} "
                         f"axes and {len(per_epoch)} epochs")
    epochs = range(len(per_epoch))
    for k, first in enumerate(per_epoch[0]):
        name = f"layer {k + 1}"
        axes[0].plot(epochs, [e[k].activation_rms for e in per_epoch], color=f"C{k}", label=name)
        axes[1].plot(epochs, [e[k].gradient_rms for e in per_epoch], color=f"C{k}", label=name)
        if first.dead_fraction is not None:
            axes[2].plot(epochs, [e[k].dead_fraction for e in per_epoch], color=f"C{k}", label=name)
    axes[0].set(yscale="log", title=f"{label}: activation RMS", xlabel="epoch")
    axes[1].set(yscale="log", title=f"{label}: gradient RMS, dl/ds", xlabel="epoch")
    axes[2].set(ylim=(0, 1), title=f"{label}: dead ReLU units", xlabel="epoch", ylabel="fraction")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
