"""The data set of Section II, the label/target conversions that training needs, and the
one switch of torch's thread count (``torch_threads``)."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch

from ._checks import check_int, check_tensor

RADIUS = 1.0 / math.sqrt(2.0 * math.pi)    # disk area pi r^2 = 1/2: half the unit square
CENTRE = (0.5, 0.5)


def build_data(n: int = 1000, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``n`` points uniform in [0, 1]^2, labelled 1 inside the disk of centre (0.5, 0.5) and
    radius 1/sqrt(2 pi), 0 outside (Section II): :math:`y = [\lVert x - c \rVert^2 < r^2]`.

    Shape: ``x`` ``(n, 2)`` of ``dtype``; ``y`` ``(n,)``, int64. The disk has area 1/2, so the
    two classes are balanced in expectation. ``generator`` fixes the draw.

    Raises:
        ``TypeError`` / ``ValueError`` for a non-integer or non-positive ``n``, a ``generator``
        that is not a ``torch.Generator``, a ``dtype`` that is not floating point.
    """
    check_int(n, "build_data n", 1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"build_data generator: expected a torch.Generator, got {type(generator).__name__}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"build_data dtype: expected a floating-point torch.dtype, got {dtype!r}")
    x = torch.rand(n, 2, generator=generator, dtype=dtype)
    inside = (x - torch.tensor(CENTRE, dtype=dtype)).pow(2).sum(1) < RADIUS ** 2
    return x, inside.long()


def one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One-hot targets: ``t[..., i, c] = 1`` if ``labels[..., i] == c`` else 0.

    Shape: labels ``(N,)`` or ``(R, N)``, integers in [0, num_classes) -> ``(..., N, num_classes)``.
    """
    out = torch.zeros(*labels.shape, num_classes, dtype=dtype)
    return out.scatter_(-1, labels.long().unsqueeze(-1), 1.0)   # scatter_ wants int64 indices


def as_targets(y, num_classes: int, dtype: torch.dtype, name: str = "y") -> torch.Tensor:
    """Float one-hot targets from int labels or from targets that are one-hot already.

    Shape: ``y`` int labels ``(N,)`` or float targets ``(N, C)`` (``(R, N)`` / ``(R, N, C)``
    with a run dimension) -> ``(..., N, C)`` of ``dtype``.

    Raises:
        ``TypeError`` for a non-tensor or a bool tensor; ``ValueError`` for labels outside
        [0, C-1] or targets whose last dimension is not C; the message names ``name``.
    """
    check_tensor(y, name)
    if not y.is_floating_point() and y.dtype != torch.bool:
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f"{name}: labels must be in [0, {num_classes - 1}] for a model with "
                             f"{num_classes} outputs, got values from {int(y.min())} to {int(y.max())}")
        return one_hot(y, num_classes, dtype)
    if y.dtype == torch.bool or y.dim() == 0 or y.shape[-1] != num_classes:
        error = TypeError if y.dtype == torch.bool else ValueError    # float with the wrong width
        raise error(f"{name}: expected int64 labels (N,) or float one-hot targets (N, {num_classes}), "
                    f"got dtype {y.dtype} with shape {tuple(y.shape)}")
    return y.to(dtype)


def labels_of(targets: torch.Tensor) -> torch.Tensor:
    """Class labels from one-hot targets (or from network outputs): the arg-max.

    Shape: ``(..., N, C)`` -> ``(..., N)``, int64.
    """
    return targets.argmax(-1)


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block on ``n`` CPU threads (default one), then restore torch's thread count.

    A training step multiplies 25 x 25 matrices: starting threads for that costs far more than
    the arithmetic (and is ruinous on a busy machine), so training, gradient checks and timings
    run on one thread.
    """
    check_int(n, "torch_threads n", 1)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
