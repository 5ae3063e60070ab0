"""The engine's training step: the maths of ``layers.py`` and ``losses.py`` again, written into
buffers that are allocated once.

``build_step`` turns a list of built-in layers into ``step(x, t)``: forward, the loss's
gradient and backward for one batch, leaving the batch's gradients in the engine's flat
gradient buffer (the optimizer then steps the flat value buffer). Every operation makes the
same floating-point operations as the plain layers, in the same order, so the numbers are the
same bit for bit (``tests/test_engine.py``); what changes is where results go:

- each layer writes into a buffer made here once, not into a fresh tensor;
- ``ReLU`` and ``Tanh`` right after a ``Linear`` work in place on its output buffer, and the
  gradient of an activation is computed in place on the gradient that reaches it;
- one sample at a time (``batch_shape`` ``(in,)`` for one model, ``(R, 1, in)`` for runs),
  ``dl/ds`` of each ``Linear`` is written straight into its bias gradient (``dl/db = dl/ds``
  for one sample: nothing to compute), ``dl/dw`` is the outer product ``dl/ds x^T`` (one
  multiplication per entry, as the plain ``g^T x`` over one row), and the gradients are set
  rather than zeroed and added;
- for one model and one sample, the sample is a vector (the paper's x): ``addmv`` computes
  ``w x + b`` and ``mv`` computes ``w^T g``, which round as the plain one-row products do;
- in float32, ``addmm`` / ``baddbmm`` compute ``x w^T + b`` in one call, which rounds as the
  plain product then sum do (in float64 it does not, and the engine makes the two calls).
Which calls round alike is a property of the kernels, so it is not taken on trust: the tests
compare every configuration bit for bit.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..layers import Linear, ReLU

Step = Callable[[torch.Tensor, torch.Tensor], None]


class LinearViews:
    """A ``Linear``'s weight, bias and their gradients as views of the engine's flat buffers."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, grad_weight: torch.Tensor,
                 grad_bias: torch.Tensor) -> None:
        self.weight, self.bias, self.grad_weight, self.grad_bias = weight, bias, grad_weight, grad_bias


def build_step(layers: list, views: dict[int, LinearViews], batch_shape: torch.Size, loss,
               dtype: torch.dtype, zero_grads: Callable[[], object]) -> Step:
    """``step(x, t)`` for ``layers`` (``Linear``, ``ReLU`` and ``Tanh`` only, checked by the
    caller) on batches of shape ``batch_shape``; ``views[i]`` holds the buffers of ``layers[i]``
    when it is a ``Linear``. ``zero_grads()`` zeroes the flat gradient buffer (batches only)."""
    vector = len(batch_shape) == 1                          # one model, one sample: a vector
    one_sample = vector or batch_shape[-2] == 1
    lead = batch_shape[:-1]
    buffer = lambda features: torch.zeros(*lead, features, dtype=dtype)
    forward: list[Callable[[torch.Tensor], torch.Tensor]] = []
    backward: list[Callable[[torch.Tensor], object]] = []
    g = None            # the buffer of dl/d(output of the layers so far); None before the first Linear
    produced = None     # the buffer holding the output of the layers so far; None: the sample itself
    for i, layer in enumerate(layers):
        if type(layer) is Linear:
            v = views[i]
            out = buffer(layer.out_features)
            forward.append(_linear_forward(v, out, vector))
            below = g
            g = (v.grad_bias if vector else v.grad_bias.unsqueeze(-2)) if one_sample else buffer(layer.out_features)
            backward.append(_linear_backward(v, g, below, one_sample, vector, produced))
            produced = out
        else:
            in_place = produced is not None and type(layers[i - 1]) is Linear   # on its Linear's own output
            out = produced if in_place else buffer(batch_shape[-1] if produced is None else produced.shape[-1])
            forward.append(_activation_forward(layer, out, in_place))
            if g is not None:
                backward.append(_activation_backward(layer, g, out, torch.zeros_like(g)))
            produced = out
    backward.reverse()
    rows = batch_shape[:-1] if not vector else (1,)
    top = g if g is not None else buffer(produced.shape[-1])
    factor = torch.tensor(loss.grad_factor(torch.Size((*rows, top.shape[-1]))), dtype=dtype)

    def step(x: torch.Tensor, t: torch.Tensor) -> None:
        if not one_sample:
            zero_grads()
        output = x
        for f in forward:
            output = f(output)
        torch.sub(output, t, out=top)        # the loss's gradient: factor * (output - target)
        top.mul_(factor)
        for b in backward:
            b(x)
    return step


def _linear_forward(v: LinearViews, out: torch.Tensor, vector: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """``s = x w^T + b`` into ``out``."""
    if vector:
        return lambda x: torch.addmv(v.bias, v.weight, x, out=out)      # w x + b for the column x
    weight_t, bias_row = v.weight.mT, v.bias.unsqueeze(-2)
    product, fused = (torch.mm, torch.addmm) if v.weight.dim() == 2 else (torch.bmm, torch.baddbmm)
    if v.weight.dtype == torch.float32:
        # b + x w^T in one call rounds as the plain x @ w^T + b does in float32 (the kernel adds b
        # after the products); in float64 it does not, and the engine makes the two calls
        return lambda x: fused(bias_row, x, weight_t, out=out)

    def forward(x: torch.Tensor) -> torch.Tensor:
        product(x, weight_t, out=out)
        return out.add_(bias_row)
    return forward


def _linear_backward(v: LinearViews, g: torch.Tensor, below: torch.Tensor | None, one_sample: bool,
                     vector: bool, produced: torch.Tensor | None) -> Callable[[torch.Tensor], None]:
    """``backward(sample)``: given ``g = dl/ds`` (in its buffer), the weight and bias gradients,
    and ``dl/dx`` into ``below`` (the gradient buffer under this layer; None for the first
    ``Linear``). The layer's input is ``produced`` (a buffer), or the sample for the first layer."""
    g_column = g.unsqueeze(-1) if vector else g.mT
    buffer = torch.empty_like(v.grad_weight)
    weight_t = v.weight.mT
    product = torch.mm if v.weight.dim() == 2 else torch.bmm

    def backward(sample: torch.Tensor) -> None:
        x = sample if produced is None else produced
        if one_sample:
            torch.mul(g_column, x, out=v.grad_weight)       # dl/ds x^T for one sample, set
        else:
            v.grad_weight.add_(product(g_column, x, out=buffer))
            v.grad_bias.add_(g.sum(-2))
        if below is not None:
            torch.mv(weight_t, g, out=below) if vector else product(g, v.weight, out=below)
    return backward


def _activation_forward(layer, out: torch.Tensor, in_place: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """sigma(s) into ``out`` (in place when ``out`` already holds s)."""
    if type(layer) is ReLU:
        return (lambda s: s.relu_()) if in_place else (lambda s: torch.clamp_min(s, 0, out=out))
    return (lambda s: s.tanh_()) if in_place else (lambda s: torch.tanh(s, out=out))


def _activation_backward(layer, g: torch.Tensor, x: torch.Tensor, d: torch.Tensor) -> Callable[[torch.Tensor], None]:
    """dl/ds = dl/dx * sigma'(s), in place in ``g``, with sigma' written from the output ``x``
    into the buffer ``d``."""
    if type(layer) is ReLU:
        def backward(sample: torch.Tensor) -> None:
            torch.sign(x, out=d)               # x = max(0, s) >= 0: 1 where s > 0, else 0
            g.mul_(d)
        return backward
    one = torch.ones((), dtype=d.dtype)

    def backward(sample: torch.Tensor) -> None:
        torch.mul(x, x, out=d)
        torch.sub(one, d, out=d)               # 1 - x^2
        g.mul_(d)
    return backward
