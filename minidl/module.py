"""The abstract ``Module``: the interface of Section IV of the paper.

A module turns an input tensor into an output tensor (``forward``) and, given the gradient
of the loss with respect to its output, returns the gradient with respect to its input
(``backward``). Modules with parameters store the gradients of their parameters in
``backward`` and use them in ``gradient_step``.
"""
from __future__ import annotations

import torch


class Module:
    """Base class of every layer and of ``Sequential``."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The (value, gradient) pairs of the module's parameters; [] when it has none."""
        return []

    def zero_grad(self) -> None:
        """Reset the stored gradients to zero (``backward`` adds to them)."""
        for _, grad in self.param():
            grad.zero_()

    def gradient_step(self, step_size: float) -> None:
        """Plain gradient step ``w <- w - eta * dl/dw`` on every parameter: eqs. (6) and (7)."""
        for value, grad in self.param():
            value.add_(grad, alpha=-step_size)

    def output_features(self, input_features: int) -> int:
        """Number of output features for ``input_features`` inputs (used by ``summary``)."""
        return input_features

    def summary(self) -> str:
        n = sum(value.numel() for value, _ in self.param())
        return f"{self!r}: {n} parameters"

    # --- saving and loading -------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the parameters, by name (``{'weight': ..., 'bias': ...}`` for ``Linear``)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``state`` (as returned by ``state_dict``) into the parameters, in place."""
        if state:
            raise ValueError(f"{self!r} has no parameters, got a state with keys {sorted(state)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
