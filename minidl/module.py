"""The abstract ``Module``: the interface of Section IV of the paper.

A module turns an input tensor into an output tensor (``forward``) and, given the gradient
of the loss with respect to its output, returns the gradient with respect to its input
(``backward``). Modules with parameters add the gradients of their parameters in ``backward``
and hand out (value, gradient) pairs through ``param()``; ``gradient_step`` then moves every
value against its gradient. That step, eqs. (6) and (7), is written once, in
``minidl.optim.gradient_step``: the optimizer owns the update and ``Module.gradient_step``
delegates to it, so no layer writes the update again.
"""
from __future__ import annotations

import torch

from . import optim


class Module:
    """Base class of every layer and of ``Sequential``.

    Subclasses implement ``forward`` and ``backward``; a subclass with parameters also
    implements ``param`` (and, to be saved, ``state_dict`` / ``load_state_dict``). ``zero_grad``
    and ``gradient_step`` work from ``param()`` alone.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The module's output for ``input``; keeps what ``backward`` will need."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        """``dl/d(input)`` from ``dl/d(output)`` (same shapes as the last ``forward``'s input and
        output); adds the parameters' gradients to the stored ones."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def _check_gradient(self, grad: torch.Tensor, stored: torch.Tensor | None, out_features: int | None = None) -> None:
        """Before ``backward``: ``forward`` must have run (``stored`` is what it kept), and ``grad``
        must have the shape of the output (``stored``'s, or with ``out_features`` last)."""
        if stored is None:
            raise ValueError(f"{self!r}.backward: expected forward(input) to be called first, got no stored "
                             f"input to differentiate at (backward() called before forward())")
        expected = stored.shape if out_features is None else (*stored.shape[:-1], out_features)
        if not isinstance(grad, torch.Tensor) or grad.shape != expected:
            got = tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__
            raise ValueError(f"{self!r}.backward: expected a gradient of shape {tuple(expected)}, got {got}")

    def param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The (value, gradient) pairs of the module's parameters; [] when it has none."""
        return []

    def zero_grad(self) -> None:
        """Reset the stored gradients to zero (``backward`` adds to them)."""
        for _, grad in self.param():
            grad.zero_()

    def gradient_step(self, step_size: float) -> None:
        r"""Eqs. (6) and (7) on every parameter, :math:`w \leftarrow w - \eta\, \partial\ell/\partial w`,
        with :math:`\eta` = ``step_size`` (``minidl.optim.gradient_step``)."""
        optim.gradient_step(self.param(), step_size)

    def output_features(self, input_features: int) -> int:
        """Number of output features for ``input_features`` inputs (used by ``summary``)."""
        return input_features

    def parameter_count(self) -> int:
        """Number of trainable numbers of one network (of one run, for a layer with runs)."""
        return sum(value.numel() for value, _ in self.param())

    def summary(self) -> str:
        """``'<repr>: <n> parameters'``."""
        return f"{self!r}: {self.parameter_count()} parameters"

    # --- state (minidl.saving writes it to a file) ------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the parameters, by name (``{'weight': ..., 'bias': ...}`` for ``Linear``)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``state`` (as returned by ``state_dict``) into the parameters, in place.

        Raises:
            ``ValueError`` if ``state`` does not fit the module; nothing is changed then.
        """
        if state:
            raise ValueError(f"{self!r} has no parameters, got a state with keys {sorted(state)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
