"""The abstract ``Module``: the interface of Section IV of the paper.

A module turns an input tensor into an output tensor (``forward``) and, given the gradient
of the loss with respect to its output, returns the gradient with respect to its input
(``backward``). A module with parameters adds their gradients in ``backward`` and hands out
(value, gradient) pairs through ``param()``. That is all ``fit`` needs: it zeroes the
gradients, runs ``forward``, the loss's gradient and ``backward``, then steps every pair that
``param()`` lists (eqs. (6) and (7), written once in ``minidl.optim.gradient_step``).

So a layer you write yourself trains like a built-in one::

    class Scale(Module):
        '''y = a * x, with one learnable number a.'''
        def __init__(self):
            self.a, self.grad_a = torch.ones(1), torch.zeros(1)
        def forward(self, x):
            self.x = x
            return self.a * x
        def backward(self, g):
            self.grad_a += (g * self.x).sum()       # dl/da: every output depends on a
            return g * self.a                        # dl/dx
        def param(self):
            return [(self.a, self.grad_a)]

What a module may declare, for ``Sequential`` to check data and layers (all optional):
``in_features`` and ``out_features`` (ints, the width it takes and gives; a module that
declares nothing keeps the width, as an activation does), ``runs`` (R for a layer holding R
networks, ``minidl.runs``); its dtype is read from its parameters.

A module is in training mode (``training`` is True) or in evaluation mode: ``train()`` and
``eval()`` switch it (``Sequential`` passes the switch on to its layers), and a layer that
behaves differently while training (dropout) reads ``self.training``. ``fit`` trains in
training mode and measures its per-epoch metrics in evaluation mode.
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

    training: bool = True      # a class attribute: a subclass need not call Module.__init__

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The module's output for ``input``; keeps what ``backward`` will need."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        """``dl/d(input)`` from ``dl/d(output)`` (same shapes as the last ``forward``'s input and
        output); adds the parameters' gradients to the stored ones."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

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

    def train(self, mode: bool = True) -> "Module":
        """Switch to training mode (``mode=False``: evaluation mode); returns the module."""
        self.training = bool(mode)
        return self

    def eval(self) -> "Module":
        """Switch to evaluation mode: ``train(False)``."""
        return self.train(False)

    def modules(self) -> list["Module"]:
        """This module and every module inside it (only itself, but for ``Sequential``)."""
        return [self]

    def output_features(self, input_features: int) -> int:
        """The width of the output for inputs of ``input_features`` features: the declared
        ``out_features`` if the module has one, else the input's (an activation)."""
        declared = getattr(self, "out_features", None)
        return declared if isinstance(declared, int) else input_features

    def parameter_count(self) -> int:
        """Number of trainable numbers of one network (of one run, for a layer with runs)."""
        runs = getattr(self, "runs", None)
        return sum(value.numel() // (runs or 1) for value, _ in self.param())

    def summary(self) -> str:
        """``'<repr>: <n> parameters'``."""
        return f"{self!r}: {self.parameter_count()} parameters"

    def _check_gradient(self, grad: torch.Tensor, stored: torch.Tensor | None, out_features: int | None = None) -> None:
        """The full check before ``backward`` (the layers call it when their quick test fails):
        ``forward`` must have run (``stored`` is what it kept), and ``grad`` must have the shape
        of the output (``stored``'s, or with ``out_features`` last). Raises, naming what is wrong."""
        if stored is None:
            raise ValueError(f"{self!r}.backward: expected forward(input) to be called first, got no stored "
                             f"input to differentiate at (backward() called before forward())")
        expected = stored.shape if out_features is None else (*stored.shape[:-1], out_features)
        if not isinstance(grad, torch.Tensor) or grad.shape != expected:
            got = tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__
            raise ValueError(f"{self!r}.backward: expected a gradient of shape {tuple(expected)}, got {got}")

    # --- state (minidl.saving writes it to a file) ------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the parameters, by name (``{'weight': ..., 'bias': ...}`` for ``Linear``).
        By default they are named by their position in ``param()``: ``'0'``, ``'1'``, ..."""
        return {str(i): value.clone() for i, (value, _) in enumerate(self.param())}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``state`` (as returned by ``state_dict``) into the parameters, in place.

        Raises:
            ``ValueError`` if ``state`` does not fit the module; nothing is changed then.
        """
        own = {str(i): value for i, (value, _) in enumerate(self.param())}
        if not isinstance(state, dict) or set(state) != set(own):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            if not own:
                raise ValueError(f"{self!r} has no parameters, got a state with keys {got}")
            raise ValueError(f"{self!r}: expected a state with keys {sorted(own)}, got {got}")
        for name, value in own.items():        # check everything before changing anything
            if not isinstance(state[name], torch.Tensor) or state[name].shape != value.shape:
                got = tuple(state[name].shape) if isinstance(state[name], torch.Tensor) else type(state[name]).__name__
                raise ValueError(f"{self!r}: parameter {name} has shape {tuple(value.shape)}, the state has {got}")
        for name, value in own.items():
            value.copy_(state[name])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
