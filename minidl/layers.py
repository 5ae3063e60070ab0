"""The layers of the paper: ``Linear`` (fully connected), ``ReLU`` and ``Tanh``.

Shapes are batch-first: an input of ``N`` samples with ``i`` features is ``(N, i)``; the
paper's column vectors are the rows of this matrix, and one sample is a batch of one,
``(1, i)``. Every layer also accepts a leading *run* dimension, ``(R, N, i)``, to train ``R``
independent networks at once (``Linear(..., runs=R)`` then holds ``R`` weight matrices): the
same lines, broadcast over ``R`` by ``@`` and ``+``.

Where the paper's equations are: ``Linear.forward`` is Step 1 of Section III-B,
``Linear.backward`` holds eqs. (4), (5) and (2), one line each, and ``Activation.backward``
eq. (3); eq. (1) is the loss's gradient (``losses.py``). The step of eqs. (6) and (7) is not
here: the optimizer owns the update (``minidl.optim.gradient_step``) and the layers' inherited
``gradient_step`` calls it.

This is the code that ``fit`` runs. ``minidl.engine`` is a faster implementation of the same
three layers, for when time matters; it refuses any layer that is not exactly one of these.
"""
from __future__ import annotations

import math

import torch

from ._checks import check_float_tensor, check_int, check_tensor
from .module import Module


class Linear(Module):
    r"""Fully connected layer: :math:`s = w x + b` (Step 1 of Section III-B).

    Shape:
        - input ``x``: ``(N, in_features)``, or ``(R, N, in_features)`` when ``runs=R``
        - output ``s``: ``(N, out_features)``, or ``(R, N, out_features)``

    Parameters:
        - ``weight``: ``(out_features, in_features)`` (``(R, out, in)`` with runs), the paper's
          layout of :math:`w^{(l)}`; ``grad_weight`` beside it.
        - ``bias``: ``(out_features,)`` (``(R, out)`` with runs); ``grad_bias`` beside it.

    Initialisation (``reset_parameters``):
        - ``init='uniform'`` (default, the paper): weights and biases from U[-1, 1].
        - ``init='xavier'`` (the paper's suggested improvement, Glorot & Bengio 2010):
          weights from U[-a, a] with a = sqrt(6 / (in + out)), biases zero.

    ``backward(g)`` with ``g = dl/ds`` of shape ``(N, out)``:
        - adds ``g^T x`` to ``grad_weight``: eq. (4), summed over the N rows of the batch;
        - adds ``sum of g over rows`` to ``grad_bias``: eq. (5);
        - returns ``dl/dx = g w``, shape ``(N, in)``: eq. (2) (``w^T g`` for column vectors).
    Gradients accumulate across calls until ``zero_grad()`` (a batch sums its samples' gradients).
    ``gradient_step(eta)``, inherited from ``Module``, applies eqs. (6) and (7) to ``weight`` and ``bias``
    (``minidl.optim.gradient_step``, the one implementation of the step).
    """

    INITS = ("uniform", "xavier")

    def __init__(self, in_features: int, out_features: int, *, init: str = "uniform",
                 runs: int | None = None, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None) -> None:
        check_int(in_features, "Linear in_features", 1)
        check_int(out_features, "Linear out_features", 1)
        if runs is not None:
            check_int(runs, "Linear runs", 1)
        if init not in self.INITS:
            raise ValueError(f"Linear init: expected one of {self.INITS}, got {init!r}")
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"Linear dtype: expected a floating-point torch.dtype, got {dtype!r}")
        self.in_features, self.out_features, self.runs, self.init = in_features, out_features, runs, init
        lead = () if runs is None else (runs,)
        self.weight = torch.empty(*lead, out_features, in_features, dtype=dtype)
        self.bias = torch.empty(*lead, out_features, dtype=dtype)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input: torch.Tensor | None = None     # x, kept by forward: backward needs it for dl/dw
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw new weights and biases (see Initialisation above) and zero the gradients."""
        if self.init == "uniform":
            self.weight.uniform_(-1.0, 1.0, generator=generator)
            self.bias.uniform_(-1.0, 1.0, generator=generator)
        else:
            bound = math.sqrt(6.0 / (self.in_features + self.out_features))
            self.weight.uniform_(-bound, bound, generator=generator)
            self.bias.zero_()
        self.zero_grad()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``s = x w^T + b``: a row of outputs per row of ``input`` (``w x + b`` for the paper's
        column vectors). Keeps ``input`` for ``backward``."""
        if (type(input) is not torch.Tensor or input.dtype is not self.weight.dtype
                or input.ndim != self.weight.ndim or input.shape[-1] != self.in_features
                or (self.runs is not None and input.shape[0] != self.runs)):
            self._check_input(input)        # the full check: raises, naming what is wrong
        self.input = input
        return input @ self.weight.mT + self.bias.unsqueeze(-2)    # s = x w^T + b; .mT transposes w, b as a row

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        """Given ``g = dl/ds`` ``(N, out)``: adds ``dl/dw`` and ``dl/db`` to the stored gradients,
        returns ``dl/dx`` ``(N, in)``."""
        g, x = grad_wrt_output, self.input
        if x is None or type(g) is not torch.Tensor or g.shape != (*x.shape[:-1], self.out_features):
            self._check_gradient(g, x, self.out_features)       # the full check: raises, naming what is wrong
        self.grad_weight += g.mT @ x        # eq. (4): dl/dw = g x^T, summed over the batch
        self.grad_bias += g.sum(-2)         # eq. (5): dl/db = g, summed over the batch
        return g @ self.weight              # eq. (2): dl/dx = w^T g, as a row per sample

    def param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def output_features(self, input_features: int) -> int:
        return self.out_features

    def parameter_count(self) -> int:
        """``out * (in + 1)``: the weights and biases of one run."""
        return self.out_features * (self.in_features + 1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight.clone(), "bias": self.bias.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        own = {"weight": self.weight, "bias": self.bias}
        if not isinstance(state, dict) or set(state) != set(own):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{self!r}: expected a state with keys ['bias', 'weight'], got {got}")
        for name, value in own.items():       # check everything before changing anything
            check_tensor(state[name], f"{self!r} state[{name!r}]")
            if state[name].shape != value.shape:
                raise ValueError(f"{self!r}: {name} has shape {tuple(value.shape)}, "
                                 f"the state has {tuple(state[name].shape)}")
        for name, value in own.items():
            value.copy_(state[name])

    def _check_input(self, input) -> None:
        name = f"{self!r}.forward input"
        check_float_tensor(input, name, self.weight.dtype)
        shape = "(N, in_features)" if self.runs is None else "(runs, N, in_features)"
        if input.dim() != self.weight.dim():
            raise ValueError(f"{name}: expected a {self.weight.dim()}-d tensor {shape}, "
                             f"got {input.dim()}-d with shape {tuple(input.shape)}")
        if input.shape[-1] != self.in_features:
            raise ValueError(f"{name}: expected {self.in_features} features (last dimension), "
                             f"got {input.shape[-1]} (shape {tuple(input.shape)})")
        if self.runs is not None and input.shape[0] != self.runs:
            raise ValueError(f"{name}: expected {self.runs} runs (first dimension), got {input.shape[0]}")

    def __repr__(self) -> str:
        runs = "" if self.runs is None else f", runs={self.runs}"
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}{runs})"


class Activation(Module):
    r"""An element-wise activation :math:`x = \sigma(s)`, the base of ``ReLU`` and ``Tanh``.

    Shape: any; the output has the input's shape. No parameters.

    ``backward(g)`` with ``g = dl/dx`` returns ``dl/ds = g * sigma'(s)``: eq. (3), with
    :math:`\sigma'(s)` written in terms of the output ``x`` kept by ``forward``. A subclass
    gives ``activate`` (sigma) and ``derivative`` (sigma' as a function of x).
    """

    def __init__(self) -> None:
        self.output: torch.Tensor | None = None    # x = sigma(s), kept by forward: sigma'(s) is written with it

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor) or not input.is_floating_point():
            check_float_tensor(input, f"{self!r}.forward input")
        self.output = self.activate(input)
        return self.output

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        x = self.output
        if x is None or type(grad_wrt_output) is not torch.Tensor or grad_wrt_output.shape != x.shape:
            self._check_gradient(grad_wrt_output, x)            # the full check: raises, naming what is wrong
        return grad_wrt_output * self.derivative(x)             # eq. (3): dl/ds = dl/dx * sigma'(s)

    def activate(self, s: torch.Tensor) -> torch.Tensor:
        """sigma(s), element-wise."""
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """sigma'(s), written in terms of the output x = sigma(s)."""
        raise NotImplementedError


class ReLU(Activation):
    r"""ReLU: :math:`x = \max(0, s)`; :math:`\sigma'(s) = 1` if :math:`s > 0` else 0.

    Shape: any; output has the input's shape. ``backward`` is eq. (3). At the kink s = 0 the
    derivative is taken as 0 (as PyTorch does).
    """

    def activate(self, s: torch.Tensor) -> torch.Tensor:
        return torch.relu(s)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return x.sign()                 # x = max(0, s) >= 0: its sign is 1 where s > 0, 0 elsewhere


class Tanh(Activation):
    r"""Tanh: :math:`x = \tanh(s)`; :math:`\sigma'(s) = 1 - \tanh^2(s) = 1 - x^2`.

    Shape: any; output has the input's shape. ``backward`` is eq. (3).
    """

    def activate(self, s: torch.Tensor) -> torch.Tensor:
        return torch.tanh(s)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1 - x * x                # 1 - tanh(s)^2, from the output x = tanh(s)
