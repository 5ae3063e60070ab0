"""The same network in ``torch.nn`` + autograd + ``torch.optim.SGD``: the paper's Section VI-B.

This module is *not* part of the framework (the framework uses no ``torch.nn``, no autograd);
it is the reference that the notebooks, tests and benchmarks compare minidl against.
``torch_twin(model)`` copies a minidl model's weights into a ``torch.nn.Sequential``;
``fit_torch`` trains it with the same loop as ``Sequential.fit`` (same shuffling from the same
generator, same step-size decay, same loss), so both trajectories can be compared step by step.
"""
from __future__ import annotations

import torch

from ..layers import Linear, ReLU, Tanh
from ..optim import decayed_step_size, torch_sgd_lr
from ..sequential import Sequential
from ..training import History, epoch_logs, fit_params, make_generators
from ..utils import as_targets


def torch_twin(model: Sequential) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` with the same layers (``Linear`` -> ``torch.nn.Linear``, ``ReLU``,
    ``Tanh``) and a copy of the same weights, in the same dtype.

    Parameters:
        - ``model``: a single-run minidl ``Sequential`` of ``Linear``, ``ReLU`` and ``Tanh``.
    """
    layers = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            twin = torch.nn.Linear(layer.in_features, layer.out_features, dtype=layer.weight.dtype)
            with torch.no_grad():
                twin.weight.copy_(layer.weight)
                twin.bias.copy_(layer.bias)
            layers.append(twin)
        elif isinstance(layer, ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, Tanh):
            layers.append(torch.nn.Tanh())
        else:
            raise TypeError(f"torch_twin: no torch.nn equivalent for {layer!r}")
    return torch.nn.Sequential(*layers)


def torch_loss(name: str):
    r"""The loss ``name`` as a torch function of ``(output, target)``, both ``(N, C)``:
    ``'mse'``, the paper's formula :math:`\frac1N \sum_n \lVert x_n - t_n \rVert^2` (sum over the
    outputs, mean over the samples); ``'elementwise'``, ``torch.nn.MSELoss()`` (mean over both)."""
    if name == "mse":
        return lambda out, t: (out - t).pow(2).sum(-1).mean()
    if name == "elementwise":
        return torch.nn.MSELoss()
    raise ValueError(f"loss: expected 'mse' or 'elementwise', got {name!r}")


def fit_torch(net: torch.nn.Module, x, y, x_validation=None, y_validation=None, *, epochs: int = 100,
              step_size: float = 0.01, batch_size: int = 1, momentum: float = 0.0, decay: float = 0.9,
              loss: str = "mse", seed: int | None = None, generator=None) -> History:
    """Train ``net`` with autograd and ``torch.optim.SGD`` exactly as ``Sequential.fit`` would.

    The paper's EMA momentum is ``torch.optim.SGD(lr=torch_sgd_lr(eta, beta), momentum=beta)``
    (``minidl.optim.torch_sgd_lr``), with the per-epoch decay of ``minidl.optim.decayed_step_size``.
    """
    out_features = [m for m in net if isinstance(m, torch.nn.Linear)][-1].out_features
    dtype = next(net.parameters()).dtype
    t = as_targets(y, out_features, dtype)
    validation = None if x_validation is None else (x_validation, as_targets(y_validation, out_features, dtype))
    criterion = torch_loss(loss)
    optimizer = torch.optim.SGD(net.parameters(), lr=torch_sgd_lr(step_size, momentum), momentum=momentum)
    generators = make_generators(seed, generator)
    history: dict[str, list[float]] = {}
    n = x.shape[0]

    def evaluate(xe, te) -> tuple[float, float]:
        out = net(xe)
        return criterion(out, te).item(), (out.argmax(1) == te.argmax(1)).to(dtype).mean().item()

    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = torch_sgd_lr(decayed_step_size(step_size, decay, epoch), momentum)
        order = torch.randperm(n, generator=generators[0])
        xs, ts = x[order], t[order]
        for xb, tb in zip(xs.split(batch_size), ts.split(batch_size)):
            optimizer.zero_grad()
            criterion(net(xb), tb).backward()
            optimizer.step()
        with torch.no_grad():
            for key, value in epoch_logs(evaluate, (x, t), validation).items():
                history.setdefault(key, []).append(value)
    return History(history, fit_params(epochs=epochs, step_size=step_size, batch_size=batch_size,
                                       momentum=momentum, decay=decay, loss=loss))
