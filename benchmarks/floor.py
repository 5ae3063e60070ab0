"""A floor for the per-sample epoch of the paper's network in eager PyTorch operations.

The same per-sample SGD as ``Sequential.fit(batch_size=1)`` (2-25-25-25-2, ReLU, ReLU, Tanh,
linear output, the paper's MSE by default; the samples in the order ``torch.randperm`` draws
from the same generator), hand-fused into one loop with as few tensor operations per sample
as we could manage. It is not part of minidl and nothing in minidl uses it: the benchmark
shows it so that minidl's own time can be read against what eager PyTorch allows at all.

The tricks, each worth one or more operations per sample:

- the loop runs under ``torch.inference_mode()`` (no autograd bookkeeping on any operation);
- one-dimensional ``mv`` / ``addmv`` with ``out=`` into preallocated buffers (no allocation);
- every layer's bias is the last column of an augmented weight ``[w | b]``, and its input
  carries a trailing 1, so ``s = w x + b`` is one ``mv``;
- all layers' augmented weights are the diagonal blocks of ONE matrix ``P``, all layers'
  augmented inputs ``[x; 1]`` are consecutive pieces of ONE vector ``A`` and all layers'
  ``dl/ds`` consecutive pieces of ONE vector ``G``. The gradient of layer l is the block
  ``g_l [x_l; 1]^T`` of the outer product ``G A^T`` (eqs. (4) and (5) as one block), so one
  rank-1 update ``P -= eta G A^T`` is the gradient step of every layer, eqs. (6) and (7).
  It also writes the off-diagonal blocks of ``P``, which nothing reads. The update is an
  ``addmm_`` of a (77, 1) by (1, 81) view rather than ``addr_``: the same rank-1 product, but
  ``addmm_`` goes to BLAS and ``addr_`` to an element-wise kernel, slower at this size;
- the loss gradient, eq. (1), is folded into the output layer: ``2 (w x + b - t)`` is one
  ``addmv`` from ``-2 t``;
- the ReLU derivatives of both ReLU layers are one ``sign`` over ``A`` (ReLU outputs are
  >= 0, so their sign is 1 where s > 0 and 0 elsewhere), the Tanh derivative ``1 - x^2``
  one ``addcmul``;
- the first layer computes no gradient with respect to the network's input;
- no checks inside the loop: the constructor checks the model once.
"""
from __future__ import annotations

import torch

from minidl import Linear, ReLU, Sequential, Tanh

PAPER_LAYERS = (Linear, ReLU, Linear, ReLU, Linear, Tanh, Linear)
LOSS_SCALES = {"mse": 2.0, "elementwise": 1.0}     # dl/dout = scale * (out - t) for one sample, C = 2


class FusedPaperNetwork:
    """A copy of a minidl paper network's weights in the block layout above, and its epoch.

    ``weights()`` gives back ``[(w, b), ...]`` per layer (views into ``P``), in minidl's layout.
    """

    def __init__(self, model: Sequential, loss: str = "mse") -> None:
        if (not isinstance(model, Sequential) or tuple(map(type, model.layers)) != PAPER_LAYERS
                or model.runs is not None or model.in_features != 2 or model.out_features != 2):
            raise ValueError(f"FusedPaperNetwork: expected the paper's single-run network "
                             f"(minidl.paper_model()), got {model!r}")
        if loss not in LOSS_SCALES:
            raise ValueError(f"FusedPaperNetwork loss: expected one of {sorted(LOSS_SCALES)}, got {loss!r}")
        self.scale = LOSS_SCALES[loss]
        linears = model.linears
        dtype = model.dtype
        rows = [0]                       # where each layer's block starts in P's rows (and in G)
        cols = [0]                       # ... and in P's columns (and in A)
        for l in linears:
            rows.append(rows[-1] + l.out_features)
            cols.append(cols[-1] + l.in_features + 1)
        self.P = torch.zeros(rows[-1], cols[-1], dtype=dtype)    # the augmented weights [w | b]
        self.A = torch.ones(cols[-1], dtype=dtype)               # [x_l; 1] for every layer
        self.G = torch.zeros(rows[-1], dtype=dtype)              # dl/ds_l for every layer
        self.D = torch.zeros(cols[-1], dtype=dtype)              # sigma'(s) for every hidden layer
        self.one = torch.ones(1, dtype=dtype)
        self.W, self.a, self.h, self.wT, self.g, self.d = [], [], [], [], [], []
        for k, l in enumerate(linears):
            i = l.in_features
            W = self.P[rows[k]:rows[k + 1], cols[k]:cols[k + 1]]
            W[:, :i].copy_(l.weight)
            W[:, i].copy_(l.bias)
            self.W.append(W)                                     # [w | b]
            self.wT.append(W[:, :i].t())                         # w^T, for eq. (2)
            self.a.append(self.A[cols[k]:cols[k + 1]])           # [x; 1], the layer's input
            self.h.append(self.A[cols[k]:cols[k + 1] - 1])       # x: written by the layer before
            self.g.append(self.G[rows[k]:rows[k + 1]])           # dl/ds
            self.d.append(self.D[cols[k]:cols[k + 1] - 1])       # sigma'(s) of the layer before

    def weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(W[:, :-1], W[:, -1]) for W in self.W]

    def epoch(self, x: torch.Tensor, t: torch.Tensor, step_size: float, generator: torch.Generator) -> None:
        """One epoch of per-sample SGD on inputs ``x`` (N, 2) and one-hot targets ``t`` (N, 2)."""
        with torch.inference_mode():
            order = torch.randperm(x.shape[0], generator=generator)
            xs, ts = x[order].unbind(), t[order].mul(-self.scale).unbind()     # -2 t for the MSE
            P, D, W, wT, g, d, one = self.P, self.D, self.W, self.wT, self.g, self.d, self.one
            A, G_column, A_row = self.A, self.G.unsqueeze(1), self.A.unsqueeze(0)
            a0, a1, a2, a3 = self.a
            x0, x1, x2, x3 = self.h
            g0, g1, g2, g3 = g
            d1, d2, d3 = d[1:]
            W0, W1, W2, W3 = W
            wT1, wT2, wT3 = wT[1:]
            scale, eta = self.scale, -step_size
            mv, addmv, addcmul, sign = torch.mv, torch.addmv, torch.addcmul, torch.sign
            for xi, mti in zip(xs, ts):
                x0.copy_(xi)
                mv(W0, a0, out=x1).relu_()                        # x1 = relu(w0 x0 + b0)
                mv(W1, a1, out=x2).relu_()                        # x2 = relu(w1 x1 + b1)
                mv(W2, a2, out=x3).tanh_()                        # x3 = tanh(w2 x2 + b2)
                addmv(mti, W3, a3, alpha=scale, out=g3)           # g3 = 2 (w3 x3 + b3 - t): eq. (1)
                sign(A, out=D)                                    # relu'(s) where A holds relu outputs
                addcmul(one, x3, x3, value=-1.0, out=d3)       # tanh'(s) = 1 - x3^2
                mv(wT3, g3, out=g2).mul_(d3)                      # eqs. (2), (3), layer by layer
                mv(wT2, g2, out=g1).mul_(d2)
                mv(wT1, g1, out=g0).mul_(d1)
                P.addmm_(G_column, A_row, alpha=eta)              # eqs. (4)-(7), all layers at once
