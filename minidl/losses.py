r"""Mean squared error, in the two conventions the reproduction needs.

``MSE`` is the paper's formula (Section III):

.. math:: \mathcal{L} = \frac{1}{N} \sum_{i=1}^N \lVert \hat y_i - t_i \rVert^2 ,

a sum over the C outputs and a mean over the N samples. Its gradient is eq. (1) for each
sample, divided by N: ``2 (pred - target) / N``.

``ElementwiseMSE`` is the mean over all N * C entries, ``torch.nn.MSELoss()``'s convention and
what the authors' code computed: it is ``MSE / C``, so with C = 2 outputs its values and its
gradient are half the paper's formula.

Both take ``(N, C)`` tensors, or ``(R, N, C)`` for R runs at once (then the loss has shape
``(R,)``). Shapes must match exactly: no silent broadcasting. The two classes share the
checks and eq. (1) (``compute_loss`` / ``compute_grad``) and differ only in the loss of a
difference (``of_difference``) and the number that multiplies it in the gradient
(``grad_factor``: 2 / N, or 2 / (N C)).
"""
from __future__ import annotations

import torch

from ._checks import check_tensor


class MSE:
    r"""The paper's loss: :math:`\mathcal{L} = \frac{1}{N} \sum_i \lVert \hat y_i - t_i \rVert^2`.

    Shape:
        - ``predictions``, ``targets``: ``(N, C)``, or ``(R, N, C)`` for R runs (equal shapes
          and dtypes, floating point)
        - loss: ``()``, or ``(R,)``; gradient: the shape of ``predictions``

    Gradient: :math:`\partial\mathcal{L}/\partial\hat y_i = 2 (\hat y_i - t_i) / N`, eq. (1)
    divided by the N samples.

    Raises:
        ``TypeError`` for non-tensors, different or integer dtypes; ``ValueError`` for
        different shapes or fewer than 2 dimensions (``compute_grad`` checks only the shapes:
        it runs every step).
    """

    @classmethod
    def compute_loss(cls, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of ``predictions`` against ``targets``, checked."""
        _check_pair(predictions, targets, cls.__name__)
        return cls.of_difference(predictions - targets)

    @classmethod
    def compute_grad(cls, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """d loss / d predictions (a new tensor): ``grad_factor * (predictions - targets)``."""
        if predictions.shape != targets.shape:   # the cheap check only: this runs every step
            _check_pair(predictions, targets, cls.__name__)
        return cls.grad_factor(predictions.shape) * (predictions - targets)     # eq. (1): 2 (y_hat - t), over N

    @staticmethod
    def of_difference(d: torch.Tensor) -> torch.Tensor:
        """The loss of ``d = predictions - targets``: sum over outputs, mean over samples."""
        return d.pow(2).sum(-1).mean(-1)

    @staticmethod
    def grad_factor(shape: torch.Size) -> float:
        """The number that multiplies ``d`` in the gradient: ``2 / N``."""
        return 2.0 / shape[-2]


class ElementwiseMSE(MSE):
    r"""Mean over all N * C entries, as ``torch.nn.MSELoss()``:
    :math:`\frac{1}{N C} \sum_{i, c} (\hat y_{ic} - t_{ic})^2`, the paper's ``MSE`` divided by C.

    Shape and errors as ``MSE``. Gradient: :math:`2 (\hat y - t) / (N C)`.
    """

    @staticmethod
    def of_difference(d: torch.Tensor) -> torch.Tensor:
        """The mean of ``d ** 2`` over samples and outputs."""
        return d.pow(2).mean((-2, -1))

    @staticmethod
    def grad_factor(shape: torch.Size) -> float:
        """``2 / (N C)``: the gradient is ``2 d / (N C)``."""
        return 2.0 / (shape[-2] * shape[-1])


LOSSES = {"mse": MSE, "elementwise": ElementwiseMSE}


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
