"""A lower bound on the per-sample epoch for *any* eager-PyTorch implementation of the paper's
network: the same per-sample SGD as ``Sequential.fit``, hand-fused into one function with as
few tensor operations as we could manage (all parameters in one flat buffer so the gradient
step and the zeroing are one operation each, transposes made once, no checks, no layers).

It is not part of minidl and nothing else uses it: it exists so the benchmark can show how much
of the per-sample time is the framework's own (Python calls, checks, one step per layer) and
how much is PyTorch's per-operation dispatch, which no framework written in PyTorch ops avoids.
"""
from __future__ import annotations

import torch

from minidl import Sequential, Linear


class FusedPaperNetwork:
    """The weights of a minidl paper network, copied into one flat buffer."""

    def __init__(self, model: Sequential) -> None:
        linears = [layer for layer in model.layers if isinstance(layer, Linear)]
        self.values = torch.cat([t.flatten() for l in linears for t in (l.weight, l.bias)])
        self.grads = torch.zeros_like(self.values)
        self.w, self.b, self.gw, self.gb, offset = [], [], [], [], 0
        for l in linears:
            o, i = l.weight.shape
            for store, grad_store, shape in ((self.w, self.gw, (o, i)), (self.b, self.gb, (o,))):
                n = o * i if len(shape) == 2 else o
                store.append(self.values[offset:offset + n].view(shape))
                grad_store.append(self.grads[offset:offset + n].view(shape))
                offset += n
        self.wt = [w.t() for w in self.w]

    def epoch(self, x: torch.Tensor, t: torch.Tensor, step_size: float, generator: torch.Generator) -> None:
        """One epoch of per-sample SGD (paper's MSE, ReLU, ReLU, Tanh, linear output)."""
        order = torch.randperm(x.shape[0], generator=generator)
        w, b, wt, gw, gb = self.w, self.b, self.wt, self.gw, self.gb
        for xi, ti in zip(x[order].split(1), t[order].split(1)):
            s1 = torch.addmm(b[0], xi, wt[0]); x1 = torch.relu(s1)
            s2 = torch.addmm(b[1], x1, wt[1]); x2 = torch.relu(s2)
            s3 = torch.addmm(b[2], x2, wt[2]); x3 = torch.tanh(s3)
            out = torch.addmm(b[3], x3, wt[3])
            g = (out - ti).mul_(2.0)
            gw[3].addmm_(g.t(), x3); gb[3].add_(g[0]); g = g.mm(w[3]) * (1 - x3 * x3)
            gw[2].addmm_(g.t(), x2); gb[2].add_(g[0]); g = g.mm(w[2]) * x2.sign()
            gw[1].addmm_(g.t(), x1); gb[1].add_(g[0]); g = g.mm(w[1]) * x1.sign()
            gw[0].addmm_(g.t(), xi); gb[0].add_(g[0])
            self.values.add_(self.grads, alpha=-step_size)
            self.grads.zero_()
