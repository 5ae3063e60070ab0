r"""Mean squared error, in the two conventions the reproduction needs.

``MSE`` is the paper's formula (Section III):

.. math:: \mathcal{L} = \frac{1}{N} \sum_{i=1}^N \lVert \hat y_i - t_i \rVert^2 ,

a sum over the C outputs and a mean over the N samples. Its gradient is eq. (1) for each
sample, divided by N: ``2 (pred - target) / N``.

``ElementwiseMSE`` is the mean over all N * C entries, ``torch.nn.MSELoss()``'s convention and
what the authors' code computed: it is ``MSE / C``, so with C = 2 outputs its values and its
gradient are half the paper's formula.

Both take ``(N, C)`` tensors, or ``(R, N, C)`` for R runs at once (then the loss has shape
``(R,)``). Shapes must match exactly: no silent broadcasting.
"""
from __future__ import annotations

import torch

from ._checks import check_tensor


def _check_pair(predictions, targets, loss: str) -> None:
    check_tensor(predictions, "predictions")
    check_tensor(targets, "targets")
    if predictions.shape != targets.shape:
        raise ValueError(f"{loss}: predictions and targets must have the same shape, got predictions "
                         f"{tuple(predictions.shape)} and targets {tuple(targets.shape)}")
    if predictions.dim() < 2:
        raise ValueError(f"{loss}: expected (N, C) tensors, got shape {tuple(predictions.shape)}")
    if predictions.dtype != targets.dtype:
        raise TypeError(f"{loss}: predictions and targets must have the same dtype, got "
                        f"{predictions.dtype} and {targets.dtype}")
    if not predictions.is_floating_point():
        raise TypeError(f"{loss}: expected floating-point predictions and targets, got {predictions.dtype}; "
                        f"convert them with .float()")


class MSE:
    """The paper's loss: mean over samples of the squared Euclidean distance."""

    @staticmethod
    def compute_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_pair(predictions, targets, "MSE")
        return (predictions - targets).pow(2).sum(-1).mean(-1)

    @staticmethod
    def compute_grad(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """dL/d(pred) = 2 (pred - target) / N: eq. (1), divided by the N samples."""
        if predictions.shape != targets.shape:   # the cheap check first: this runs every step
            _check_pair(predictions, targets, "MSE")
        return (predictions - targets).mul_(2.0 / predictions.shape[-2])


class ElementwiseMSE:
    """Mean over all N * C entries, as ``torch.nn.MSELoss()``: the paper's ``MSE`` divided by C."""

    @staticmethod
    def compute_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_pair(predictions, targets, "ElementwiseMSE")
        return (predictions - targets).pow(2).mean((-2, -1))

    @staticmethod
    def compute_grad(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """dL/d(pred) = 2 (pred - target) / (N C)."""
        if predictions.shape != targets.shape:
            _check_pair(predictions, targets, "ElementwiseMSE")
        return (predictions - targets).mul_(2.0 / (predictions.shape[-2] * predictions.shape[-1]))


LOSSES = {"mse": MSE, "elementwise": ElementwiseMSE}
