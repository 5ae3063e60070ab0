r"""Gradient checking: is a module's ``backward`` the derivative of its ``forward``?

Two independent oracles compare the *analytic* gradients that minidl computes (eqs. (1)-(5))
with gradients computed another way:

- ``oracle='numerical'``: central finite differences. For every entry :math:`\theta_k` of a
  tensor, with a small step :math:`h`,

  .. math:: \frac{\partial f}{\partial \theta_k} \approx
            \frac{f(\theta + h e_k) - f(\theta - h e_k)}{2h} ,

  whose error is :math:`O(h^2)` (the one-sided difference's is :math:`O(h)`).
- ``oracle='autograd'``: ``torch.autograd`` on ``torch.nn`` layers with the same weights
  (``minidl.lab.compare.torch_twin``). Autograd is not part of the framework; here it is a judge.

A module maps ``(N, i)`` to ``(N, o)``, not to a number, so it is checked on the scalar
:math:`f(x) = \sum_{n,j} \mathrm{forward}(x)_{nj} r_{nj}` with fixed random weights ``r``;
then :math:`\partial f / \partial \mathrm{output} = r`, and ``backward(r)`` must return
:math:`\partial f / \partial x` and store :math:`\partial f / \partial w` for every parameter.

Relative error, per entry, reported as its maximum over the entries of each quantity:

.. math:: \mathrm{err}(a, b) = \frac{|a - b|}{\max(|a|, |b|, \mathrm{tiny})}

``a`` analytic, ``b`` from the oracle. Dividing by the larger magnitude makes the error
scale-free (1e-7 means "7 correct digits" whether the gradient is 1e3 or 1e-2) and bounded by 2.
``tiny`` is the magnitude below which an entry counts as zero and is compared absolutely:
without it an entry that should be 0 but carries rounding noise would count as a 100 % error.

Step and thresholds (float64). A central difference has a truncation error of about
``h^2 |f'''| / 6`` and a rounding error of about ``eps |f| / h`` (eps = 1.1e-16 in float64),
so ``h = 1e-5`` balances the two; on the paper's network the absolute noise it leaves is up to
about 1e-9. With ``tiny = 1e-3`` that noise contributes at most ~1e-6 to the error, so a
correct ``backward`` measures ~1e-6 or less, while a wrong derivative measures 0.1 to 1 (a
factor 2 gives 0.5). The default ``threshold = 1e-5`` sits between the two.

Why float64: in float32 eps is 6e-8, and no step works: a small ``h`` drowns the difference in
rounding, a large one in truncation error and ReLU kinks. On the paper's network every ``h``
from 1e-7 to 1e-2 leaves float32 errors above 0.1 (notebook 03 measures it), so ``check_module``
and ``check_loss`` refuse any dtype but float64.

Why ReLU's kink matters: if a ReLU input lies within ``h`` of 0, the difference quotient
straddles the kink and returns a slope between 0 and 1 that no derivative matches: a false
alarm, not a bug. Check a ReLU layer on inputs pushed away from 0 (``away_from_zero``), and for
a network look at ``nearest_kink`` (the smallest |input| of its ReLUs) before blaming backward.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .._checks import check_positive_number
from .compare import torch_loss, torch_twin
from .tables import text_table
from ..layers import ReLU
from ..losses import LOSSES
from ..module import Module
from ..sequential import Sequential
from ..utils import torch_threads

DEFAULT_H = 1e-5
DEFAULT_THRESHOLD = 1e-5
DEFAULT_TINY = 1e-3


@dataclass
class GradCheckResult:
    """The outcome of a check: the maximum relative error of each quantity, and the verdict
    ``passed`` (every error at most ``threshold``; a NaN fails).

    Parameters:
        - ``name``: what was checked; ``oracle``: ``'numerical'`` or ``'autograd'``.
        - ``errors``: quantity (``'input'``, ``'weight'``, ``'0.bias'``, ``'predictions'``, ...)
          -> its maximum relative error.
        - ``threshold``: the largest error that passes.
        - ``worst``: quantity -> ``(index, analytic, oracle)`` at its worst entry.
    """
    name: str
    oracle: str
    errors: dict[str, float]
    threshold: float
    worst: dict[str, tuple] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return all(e <= self.threshold for e in self.errors.values())   # NaN fails too

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def failing(self) -> list[tuple[str, float, tuple, float, float]]:
        """``(quantity, error, index, analytic, oracle)`` for every quantity above the threshold
        (NaN included), with its worst entry."""
        return [(quantity, error, *self.worst[quantity]) for quantity, error in self.errors.items()
                if not error <= self.threshold]

    def failures(self) -> list[str]:
        """One sentence per failing quantity: which layer, which gradient, where, how wrong."""
        return [f"{self.name}: gradient w.r.t. {quantity} disagrees with {self.oracle}: max relative error "
                f"{error:.3g} > threshold {self.threshold:g}; worst entry {index}: backward gives "
                f"{analytic:.6g}, {self.oracle} gives {oracle:.6g}"
                for quantity, error, index, analytic, oracle in self.failing()]

    def __str__(self) -> str:
        if self.passed:
            return (f"{self.name}: PASS vs {self.oracle} (max relative error "
                    f"{self.max_error:.1e} <= {self.threshold:g})")
        return "FAIL\n" + "\n".join(self.failures())


def relative_error(analytic: torch.Tensor, oracle: torch.Tensor,
                   tiny: float = DEFAULT_TINY) -> tuple[float, tuple, float, float]:
    r"""The largest relative error :math:`|a - b| / \max(|a|, |b|, \mathrm{tiny})` over the entries.

    Shape:
        - ``analytic`` (a) and ``oracle`` (b): the same, any.

    Returns:
        ``(error, index, a[index], b[index])`` at the worst entry (a NaN counts as infinite;
        ``(0.0, (), nan, nan)`` for empty tensors).
    """
    if analytic.shape != oracle.shape:
        raise ValueError(f"relative_error: shapes differ, analytic {tuple(analytic.shape)} "
                         f"and oracle {tuple(oracle.shape)}")
    if analytic.numel() == 0:
        return 0.0, (), float("nan"), float("nan")
    a, b = analytic.double(), oracle.double()
    err = (a - b).abs() / torch.maximum(torch.maximum(a.abs(), b.abs()), torch.tensor(tiny, dtype=a.dtype))
    err = torch.where(torch.isnan(err), torch.inf, err)     # a NaN gradient is the worst error
    k = int(err.argmax())
    return float(err.flatten()[k]), _unravel(k, err.shape), float(a.flatten()[k]), float(b.flatten()[k])


def _unravel(flat: int, shape: torch.Size) -> tuple[int, ...]:
    """The index of entry ``flat`` of a row-major tensor of ``shape`` (``torch.unravel_index``
    without its first-call import of sympy, 0.3 s: the grader's checks each run in a fresh
    process, see ``minidl.lab.recheck``)."""
    index = []
    for size in reversed(shape):
        flat, k = divmod(flat, size)
        index.append(k)
    return tuple(reversed(index))


def numerical_gradient(f: Callable[[], torch.Tensor | float], tensor: torch.Tensor,
                       h: float = DEFAULT_H) -> torch.Tensor:
    r"""Central differences :math:`(f(t + h e_k) - f(t - h e_k)) / 2h` for every entry k of ``tensor``.

    Shape:
        - ``tensor``: any, contiguous; output: the same.

    Parameters:
        - ``f``: reads ``tensor`` and returns a number; ``tensor`` is perturbed in place, one
          entry at a time, and restored.
        - ``h``: the step.
    """
    if not tensor.is_contiguous():
        raise ValueError("numerical_gradient: tensor must be contiguous (it is perturbed in place)")
    grad = torch.zeros_like(tensor)
    flat, gflat = tensor.view(-1), grad.view(-1)
    with torch_threads(1):          # thousands of tiny forward passes: threads only cost time
        for k in range(flat.numel()):
            old = flat[k].item()
            flat[k] = old + h
            plus = float(f())
            flat[k] = old - h
            minus = float(f())
            flat[k] = old
            gflat[k] = (plus - minus) / (2 * h)
    return grad


def away_from_zero(x: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """``x + margin * sign(x)`` (with sign(0) = 1): every entry at least ``margin`` away from 0,
    which keeps a ReLU off its kink. Shape: any; the output has ``x``'s shape and dtype."""
    return x + margin * torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def nearest_kink(module: Module, x: torch.Tensor) -> float:
    """The smallest |input| of any ReLU in ``module`` (nested ``Sequential``s included) on ``x``;
    ``inf`` without ReLUs. Below ``h``, a finite difference may straddle the kink.

    Shape:
        - ``x``: ``(N, in_features)`` of ``module``.
    """
    nearest = float("inf")
    for layer in module.layers if isinstance(module, Sequential) else [module]:
        if isinstance(layer, (ReLU, Sequential)):
            nearest = min(nearest, float(x.abs().min()) if isinstance(layer, ReLU) else nearest_kink(layer, x))
        x = layer.forward(x)
    return nearest


def parameter_names(module: Module) -> list[str]:
    """The names of ``module.param()``, in order: ``'weight'``, ``'bias'``, ``'0.weight'``, ...
    (the ``state_dict`` keys; ``'param[k]'`` when they do not line up)."""
    names = list(module.state_dict())
    n = len(module.param())
    return names if len(names) == n else [f"param[{k}]" for k in range(n)]


def _module_name(module: Module) -> str:
    text = repr(module)
    return text if "\n" not in text else f"{type(module).__name__} of {len(module.layers)} layers"


def _check_float64(tensor: torch.Tensor, name: str) -> None:
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float64:
        got = tensor.dtype if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise TypeError(f"{name}: gradient checks need float64 (in float32, rounding swamps the "
                        f"finite differences), got {got}")


def _check_options(oracle: str, h: float, threshold: float, tiny: float) -> None:
    if oracle not in ("numerical", "autograd"):
        raise ValueError(f"oracle: expected 'numerical' or 'autograd', got {oracle!r}")
    for value, name in ((h, "h"), (threshold, "threshold"), (tiny, "tiny")):
        check_positive_number(value, name)


def check_module(module: Module, x: torch.Tensor, *, oracle: str = "numerical",
                 h: float = DEFAULT_H, threshold: float = DEFAULT_THRESHOLD, tiny: float = DEFAULT_TINY,
                 generator: torch.Generator | None = None, name: str | None = None) -> GradCheckResult:
    r"""Check ``module.backward`` on :math:`f(x) = \sum_{n,j} \mathrm{forward}(x)_{nj} r_{nj}`
    (random ``r``): the input gradient it returns (eq. (2)) and every parameter gradient it
    stores in ``param()`` (eqs. (4), (5)), against ``oracle``.

    Shape:
        - ``x``: ``(N, in_features)``, float64, as the module's parameters.

    Parameters:
        - ``oracle``: ``'numerical'`` (central differences with step ``h``) or ``'autograd'``.
        - ``threshold``: the largest relative error that passes; ``tiny``: see ``relative_error``.
        - ``generator``: draws ``r``; ``name``: the name in the result (default: the repr).

    Returns:
        A ``GradCheckResult`` with one error per quantity (``'input'``, ``'weight'``, ...).
        The module's stored gradients are reset (``zero_grad``); its parameters are unchanged.
    """
    _check_options(oracle, h, threshold, tiny)
    if not isinstance(module, Module):
        raise TypeError(f"check_module: expected a minidl Module, got {type(module).__name__}")
    _check_float64(x, "check_module x")
    names = parameter_names(module)
    for pname, (value, _) in zip(names, module.param()):
        _check_float64(value, f"check_module {module!r} parameter {pname}")
    name = name or _module_name(module)
    x = x.clone()
    out = module.forward(x)
    r = torch.randn(out.shape, generator=generator, dtype=torch.float64)

    module.zero_grad()                                   # the analytic gradients
    analytic = {"input": module.backward(r.clone())}
    analytic.update({n: g.clone() for n, (_, g) in zip(names, module.param())})
    module.zero_grad()

    if oracle == "numerical":
        f = lambda: (module.forward(x) * r).sum()
        other = {"input": numerical_gradient(f, x, h)}
        other.update({n: numerical_gradient(f, v, h) for n, (v, _) in zip(names, module.param())})
    else:
        other = autograd_gradients(module, x, r)
    return _result(name, oracle, analytic, other, threshold, tiny)


def check_loss(loss, predictions: torch.Tensor, targets: torch.Tensor, *, oracle: str = "numerical",
               h: float = DEFAULT_H, threshold: float = DEFAULT_THRESHOLD,
               tiny: float = DEFAULT_TINY) -> GradCheckResult:
    """Check ``loss.compute_grad`` (eq. (1), over a batch) against ``loss.compute_loss``.

    Shape:
        - ``predictions``, ``targets``: ``(N, C)``, float64.

    Parameters:
        - ``loss``: ``MSE``, ``ElementwiseMSE`` or a class with the same two methods.
        - ``oracle``, ``h``, ``threshold``, ``tiny``: as in ``check_module``.

    Returns:
        A ``GradCheckResult`` with the quantity ``'predictions'``.
    """
    _check_options(oracle, h, threshold, tiny)
    if not (hasattr(loss, "compute_loss") and hasattr(loss, "compute_grad")):
        raise TypeError(f"check_loss: expected a loss with compute_loss and compute_grad (MSE, "
                        f"ElementwiseMSE), got {loss!r}")
    _check_float64(predictions, "check_loss predictions")
    _check_float64(targets, "check_loss targets")
    pred = predictions.clone()
    analytic = {"predictions": loss.compute_grad(pred.clone(), targets)}
    if oracle == "numerical":
        other = {"predictions": numerical_gradient(lambda: loss.compute_loss(pred, targets), pred, h)}
    else:
        other = {"predictions": autograd_loss_gradient(loss, pred, targets)}
    return _result(getattr(loss, "__name__", type(loss).__name__), oracle, analytic, other, threshold, tiny)


def autograd_gradients(module: Module, x: torch.Tensor, r: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of ``sum(net(x) * r)`` by ``torch.autograd``, where ``net`` is the ``torch.nn``
    twin of ``module`` (``Linear``, ``ReLU``, ``Tanh`` or a ``Sequential`` of them) with a copy
    of its weights.

    Shape:
        - ``x``: ``(N, in_features)``; ``r``: ``(N, out_features)``.

    Returns:
        ``{'input': dL/dx, <parameter name>: its gradient, ...}``, keyed as in ``check_module``.
    """
    seq = module if isinstance(module, Sequential) else Sequential(module)
    net = torch_twin(seq)
    xg = x.detach().clone().requires_grad_(True)
    (net(xg) * r).sum().backward()
    grads = [p.grad for p in net.parameters()]          # weight, bias of each Linear, in order
    return {"input": xg.grad, **dict(zip(parameter_names(module), grads))}


def autograd_loss_gradient(loss, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d loss / d predictions by ``torch.autograd`` on an independent formula of the loss:
    ``MSE`` (and its subclasses): ``((p - t)^2).sum(-1).mean()``; ``ElementwiseMSE``:
    ``torch.nn.MSELoss()``.

    Shape:
        - ``predictions``, ``targets``: ``(N, C)``; output: ``(N, C)``.
    """
    names = {cls: key for key, cls in LOSSES.items()}
    name = next((names[c] for c in getattr(loss, "__mro__", ()) if c in names), None)
    if name is None:
        raise TypeError(f"autograd_loss_gradient: no autograd formula for {loss!r}; expected one of "
                        f"{[c.__name__ for c in names]} (or a subclass)")
    p = predictions.detach().clone().requires_grad_(True)
    torch_loss(name)(p, targets).backward()
    return p.grad


def _result(name, oracle, analytic, other, threshold, tiny) -> GradCheckResult:
    errors, worst = {}, {}
    for quantity, a in analytic.items():
        error, *where = relative_error(a, other[quantity], tiny)
        errors[quantity], worst[quantity] = error, tuple(where)
    return GradCheckResult(name, oracle, errors, threshold, worst)


def results_table(results: list[GradCheckResult]) -> str:
    """A plain-text table of ``results``: one row per (checked thing, quantity) with the oracle,
    the maximum relative error and the verdict, columns aligned."""
    rows = [(r.name, q, r.oracle, f"{e:.1e}", "pass" if e <= r.threshold else "FAIL")
            for r in results for q, e in r.errors.items()]
    return text_table(("module", "gradient w.r.t.", "oracle", "max rel. error", "verdict"), rows)
