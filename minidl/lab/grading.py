"""Checks for the graded tests of the course (``course/source/``): messages that teach.

A failing test of an exercise should tell a student what to fix: which equation, which shape,
the largest error and where. These helpers raise ``AssertionError`` (what nbgrader counts as a
failed test) with such a message, and pass silently otherwise.

- ``expect_shape`` / ``expect_close``: a result against the expected shape and values;
- ``expect_gradients``: a ``minidl.lab.gradcheck`` result, each gradient named by its equation;
- ``reference_forward``: a student's ``Linear`` with minidl's forward, so that a test of its
  backward does not depend on its forward (partial credit per function);
- ``choose_layers``: the student's layers if they pass the gradient checker, else minidl's;
- ``RecordingModel`` and ``expect_algorithm_1``: what a training loop did, step by step,
  against Algorithm 1 (shuffle, one sample per step, step size times ``decay`` per epoch);
- ``check_*``: one per exercise of the course, called by its graded test cell (visible tests
  with one seed and shape, hidden tests with others). A failure names the likely mistake when
  the wrong result has a known signature (``minidl.lab.hints``: transposed, N times too large,
  negated, ...), and a torch shape error raised by the student's code becomes a message that
  names the shapes and the equation;
- ``grades_table``: nbgrader's ``grades.csv`` as a table of students by assignment
  (``python -m minidl.lab.grading course/grades.csv``, the end of ``make grade``).
"""
from __future__ import annotations

import csv
import inspect
import json
import os
import sys
from contextlib import contextmanager
from typing import Callable, NamedTuple

import torch
from torch.optim.sgd import sgd as torch_sgd_step

from .. import MSE, SGD, Linear, Module, ReLU, Sequential, Tanh, build_data
from ..optim import decayed_step_size
from ..utils import one_hot
from .gradcheck import GradCheckResult, away_from_zero, check_loss, check_module, relative_error
from .hints import CheckFailure, Hint, likely_mistake, matches
from .tables import text_table

F64 = torch.float64


def expect_shape(got, shape: tuple[int, ...], what: str) -> None:
    """``got`` is a tensor of shape ``shape``; else AssertionError naming ``what``."""
    shape = tuple(shape)
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what}: expected a torch.Tensor of shape {shape}, got {type(got).__name__}")
    if tuple(got.shape) != shape:
        raise AssertionError(f"{what}: expected shape {shape}, got {tuple(got.shape)}")


def expect_close(got, expected: torch.Tensor, what: str, *, tolerance: float = 1e-10) -> float:
    """``got`` has ``expected``'s shape and values, to a relative error of ``tolerance``
    (``minidl.lab.gradcheck.relative_error``); else AssertionError with the worst entry.
    Returns the largest relative error."""
    expect_shape(got, expected.shape, what)
    error, index, yours, wanted = relative_error(got.detach(), expected.detach())
    if not error <= tolerance:
        raise AssertionError(f"{what}: largest relative error {error:.3g} (tolerance {tolerance:g}) at "
                             f"entry {index}: yours is {yours:.6g}, expected {wanted:.6g}")
    return error


@contextmanager
def hinted(hint: Hint | None):
    """Run checks; if one fails (an AssertionError), the failure ends with ``hint``, the likely
    mistake (unless it names one already)."""
    try:
        yield
    except AssertionError as failure:
        if hint is None or getattr(failure, "hint", None) is not None:
            raise
        raise CheckFailure(str(failure), hint) from None


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def expect_gradients(result: GradCheckResult, labels: list[str],
                     failure: str = "backward is not the derivative of forward") -> list[float]:
    """Pass if the gradient check passed, returning each gradient's largest relative error
    against finite differences (in ``labels``' order); else AssertionError naming, for each
    failing gradient, ``labels[k]`` (its equation: the k-th quantity checked, ``'input'`` first,
    then the parameters in ``param()`` order), its error and its worst entry."""
    if result.passed:
        return list(result.errors.values())
    label_of = dict(zip(result.errors, labels + list(result.errors)[len(labels):]))
    lines = [f"- {label_of[quantity]}: relative error {error:.3g} against finite differences (threshold "
             f"{result.threshold:g}); worst at entry {index}: yours is {yours:.6g}, finite differences give "
             f"{numerical:.6g}" for quantity, error, index, yours, numerical in result.failing()]
    raise AssertionError(f"{result.name}: {failure}\n" + "\n".join(lines))


def report(name: str, rows: list[tuple[str, float, float]]) -> None:
    """Print what a passed check measured, so that a student sees it: per quantity (its equation
    and shape), the largest relative error against finite differences (None: not checked so)
    and against minidl's own layer on the same weights."""
    print(f"{name}: passed")
    for label, against_fd, against_minidl in rows:
        fd = "" if against_fd is None else f"{against_fd:.1e} against finite differences, "
        print(f"  {label}: largest relative error {fd}{against_minidl:.1e} against minidl's")


def reference_forward(layer: Module) -> Module:
    """``layer`` (a student's Linear with ``weight``, ``bias`` and ``input``) with its forward
    replaced, on this instance only, by minidl's ``s = x w^T + b`` on the same weight and bias
    tensors. The forward keeps its input in ``layer.input``, as the exercise's does."""
    reference = Linear(layer.weight.shape[1], layer.weight.shape[0], dtype=layer.weight.dtype)
    reference.weight, reference.bias = layer.weight, layer.bias     # shared: perturbations show

    def forward(input: torch.Tensor) -> torch.Tensor:
        layer.input = input
        return reference.forward(input)

    layer.forward = forward
    return layer


class Layers(NamedTuple):
    Linear: type
    ReLU: type
    Tanh: type
    MSE: type


def _check_linear(cls) -> None:
    g = torch.Generator().manual_seed(0)
    layer = cls(3, 4, generator=g, dtype=F64)
    x = torch.randn(5, 3, generator=g, dtype=F64)
    expect_close(layer.forward(x), _twin(layer).forward(x), "Linear.forward (Step 1 of Section III-B)")
    expect_gradients(check_module(layer, x, generator=g), ["dl/dx (eq. (2))", "dl/dw (eq. (4))", "dl/db (eq. (5))"])


def _check_activation(cls) -> None:
    g = torch.Generator().manual_seed(0)
    x = away_from_zero(torch.randn(5, 4, generator=g, dtype=F64))
    expect_gradients(check_module(cls(), x, generator=g), ["dl/ds (eq. (3))"])


def _check_mse(cls) -> None:
    g = torch.Generator().manual_seed(0)
    p, t = torch.randn(5, 2, generator=g, dtype=F64), torch.randn(5, 2, generator=g, dtype=F64)
    expect_gradients(check_loss(cls, p, t), ["dL/d(predictions) (eq. (1), over the batch)"])


def choose_layers(namespace: dict, *, verbose: bool = True) -> Layers:
    """For each of ``Linear``, ``ReLU``, ``Tanh`` and ``MSE``: the class of that name in
    ``namespace`` (a notebook's ``globals()``) if it is the student's own (not minidl's) and
    passes the gradient checker; else minidl's. Prints which was taken and why."""
    checks = {"Linear": (Linear, _check_linear), "ReLU": (ReLU, _check_activation),
              "Tanh": (Tanh, _check_activation), "MSE": (MSE, _check_mse)}
    chosen = {}
    for name, (minidls, check) in checks.items():
        cls = namespace.get(name)
        if cls is None or cls is minidls:
            chosen[name], why = minidls, "minidl's (none of yours defined here)"
        else:
            try:
                check(cls)
                chosen[name], why = cls, "yours (it passes the gradient check)"
            except Exception as error:      # any failure of a student's class means: use minidl's
                first = str(error).splitlines()[0] if str(error) else ""
                chosen[name], why = minidls, f"minidl's (yours fails: {type(error).__name__}: {first})"
        if verbose:
            print(f"{name:6s} {why}")
    return Layers(**chosen)


class RecordingModel(Module):
    """A stand-in network that records what a training loop does with it.

    One parameter ``w`` (shape ``(1,)``, starts at 0). ``forward(x)`` returns zeros ``(N, 2)``
    and records ``x`` and the current ``w``; ``backward`` adds 1 to ``dl/dw`` (so after
    ``zero_grad`` one gradient step of size eta lowers ``w`` by exactly eta).
    """

    def __init__(self) -> None:
        self.w, self.grad_w = torch.zeros(1, dtype=F64), torch.zeros(1, dtype=F64)
        self.events: list[tuple] = []       # ('forward', x, w), ('backward',), ('zero_grad',)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self.events.append(("forward", input.detach().clone(), float(self.w)))
        return torch.zeros(input.shape[0], 2, dtype=input.dtype)

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        self.events.append(("backward",))
        self.grad_w += 1
        return torch.zeros(grad_wrt_output.shape[0], 2, dtype=grad_wrt_output.dtype)

    def param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(self.w, self.grad_w)]

    def zero_grad(self) -> None:
        self.events.append(("zero_grad",))
        self.grad_w.zero_()

    def training_steps(self) -> list[tuple[torch.Tensor, float]]:
        """(inputs, w before the step) of every forward that a backward followed: the steps."""
        steps = []
        for event, following in zip(self.events, self.events[1:]):
            if event[0] == "forward" and following[0] == "backward":
                steps.append((event[1], event[2]))
        return steps


@contextmanager
def correct_gradient_step(train: Callable):
    """While checking ``train``, the name ``gradient_step`` in the student's notebook (the globals
    ``train`` reads) means a correct step of eqs. (6), (7): so ``train`` is graded alone, and a
    mistake in the student's ``gradient_step`` costs that function's points only (as
    ``reference_forward`` grades ``Linear.backward`` alone)."""
    names = getattr(train, "__globals__", None)
    if not isinstance(names, dict) or "gradient_step" not in names:
        yield
        return
    theirs = names["gradient_step"]
    names["gradient_step"] = lambda model, step_size: model.gradient_step(step_size)
    try:
        yield
    finally:
        names["gradient_step"] = theirs


def expect_algorithm_1(train: Callable, *, n: int = 12, epochs: int = 3, step_size: float = 0.1,
                       decay: float = 0.9, seed: int = 0) -> None:
    """Run ``train(model, x, t, epochs=, step_size=, decay=, generator=)`` on a
    ``RecordingModel`` and check Algorithm 1: every epoch takes each of the ``n`` samples once,
    one per step, in a fresh random order; each step lowers ``w`` by the epoch's step size
    ``step_size * decay**epoch`` (eqs. (6)-(7) after ``zero_grad``). The notebook's
    ``gradient_step`` is a correct one meanwhile (``correct_gradient_step``)."""
    x = torch.stack([torch.arange(n, dtype=F64), torch.zeros(n, dtype=F64)], dim=1)   # x[i, 0] = i
    t = torch.zeros(n, 2, dtype=F64)

    def run() -> RecordingModel:
        model = RecordingModel()
        with correct_gradient_step(train):
            try:
                train(model, x, t, epochs=epochs, step_size=step_size, decay=decay,
                      generator=torch.Generator().manual_seed(seed))
            except NotImplementedError:             # the release's stub: not a mistake to name
                raise
            except Exception as error:              # noqa: BLE001 (say what the loop did before it failed)
                _expect_one_sample_steps([event[1] for event in model.events if event[0] == "forward"],
                                         f" (your train then raised {type(error).__name__}: {_first_line(error)})")
                raise
        return model

    model = run()
    steps = model.training_steps()
    _expect_one_sample_steps([inputs for inputs, _ in steps])
    if len(steps) != n * epochs:
        raise AssertionError(f"Algorithm 1: {epochs} epochs of {n} samples make {n * epochs} steps "
                             f"(forward, backward, gradient step), your train made {len(steps)}")
    ws = [w for _, w in steps] + [float(model.w)]
    lowered = [before - after for before, after in zip(ws, ws[1:])]     # by each step, in order
    orders = []
    for epoch in range(epochs):
        chunk = steps[epoch * n:(epoch + 1) * n]
        order = [int(inputs[0, 0]) for inputs, _ in chunk]
        if sorted(order) != list(range(n)):
            raise AssertionError(f"Algorithm 1, epoch {epoch}: every sample once per epoch; your order of "
                                 f"samples was {order}")
        orders.append(order)
        eta = decayed_step_size(step_size, decay, epoch)
        for k in range(n):
            if not _same(lowered[epoch * n + k], eta):
                hint = _step_size_mistake(lowered, n=n, epoch=epoch, k=k, step_size=step_size, decay=decay)
                raise CheckFailure(
                    f"Algorithm 1, epoch {epoch}, step {k}: with dl/dw = 1 a step of eqs. (6)-(7) lowers w "
                    f"by the step size {step_size} x {decay}^{epoch} = {eta:.6g}; yours lowered it by "
                    f"{lowered[epoch * n + k]:.6g}.", hint)
    if epochs > 1 and all(order == orders[0] for order in orders):
        raise AssertionError(f"Algorithm 1, line 3: shuffle the samples at every epoch; yours took the "
                             f"same order {orders[0]} in all {epochs} epochs")
    again = [int(inputs[0, 0]) for inputs, _ in run().training_steps()]
    if again != [o for order in orders for o in order]:
        raise CheckFailure("Algorithm 1, line 3: two runs of your train with the same seed took the samples in "
                           "different orders: the shuffles must come from the generator argument",
                           Hint("shuffle_without_generator", "your shuffle does not draw from the generator it "
                                                             "is given (torch.randperm(N, generator=generator)), "
                                                             "so a seed does not fix the order"))
    sizes = ", ".join(f"{decayed_step_size(step_size, decay, e):.4g}" for e in range(epochs))
    print(f"Algorithm 1 on {epochs} epochs of N = {n} samples: passed\n  each epoch took every sample once, "
          f"one per step, in a new order; the steps of eqs. (6), (7) had the step sizes {sizes}")


def _expect_one_sample_steps(inputs: list[torch.Tensor], after: str = "") -> None:
    """Algorithm 1's line 4: every forward of a training step takes one sample, shape (1, 2)."""
    shapes = sorted({tuple(x.shape) for x in inputs})
    if shapes and shapes != [(1, 2)]:
        raise CheckFailure(f"Algorithm 1, line 4: each step takes one sample, an input of shape (1, 2) "
                           f"(e.g. x[i:i + 1]); yours took inputs of shapes {shapes}{after}",
                           Hint("not_one_sample", f"your steps take inputs of shapes {shapes}: one sample is a "
                                                  f"batch of one row, x[i:i + 1], shape (1, 2)")) from None


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def _step_size_mistake(lowered: list[float], *, n: int, epoch: int, k: int, step_size: float,
                       decay: float) -> Hint | None:
    """What the steps of a train that failed Algorithm 1 at step ``k`` of ``epoch`` look like
    (``lowered``: how much each step lowered w, with dl/dw = 1 after zero_grad)."""
    eta = decayed_step_size(step_size, decay, epoch)
    j = epoch * n + k                                  # the failing step, counted from the start
    d = lowered[j]
    this_epoch = lowered[epoch * n:(epoch + 1) * n]
    if d == 0:
        return Hint("not_updated", "Nothing changed: model.param() still holds the old values (a new "
                                   "tensor bound to a name changes nothing): update the parameters in place")
    if _same(-d, eta):
        return Hint("negated", f"your step raised w by the step size {eta:.6g} instead of lowering it: "
                               f"eqs. (6)-(7) go against the gradient")
    if _same(d, (j + 1) * eta) or _same(d, (k + 1) * eta):
        return Hint("no_zero_grad", f"The gradient grew from step to step (step {k} lowered w by "
                                    f"{round(d / eta)} step sizes): call zero_grad() before backward "
                                    f"(backward adds to the stored gradients)")
    if k > 0 and _same(d, lowered[j - 1] * decay):
        return Hint("decay_per_sample", f"your step size shrank by the factor decay = {decay:g} from one "
                                        f"step to the next inside epoch {epoch}: Algorithm 1 multiplies it by "
                                        f"decay once per epoch, not once per sample")
    if epoch > 0 and all(_same(x, d) for x in this_epoch) and d > 0:
        used = (d / step_size) ** (1 / epoch)
        if _same(used, 1.0):
            return Hint("no_decay", f"your step size is {step_size:g} in every epoch: it never decays")
        if _same(used, decay ** 2):
            return Hint("decay_twice", f"your step size in epoch {epoch} is {step_size:g} x ({decay:g}^2)^{epoch}: "
                                       f"the decay is applied twice per epoch (once would give "
                                       f"{step_size:g} x {decay:g}^{epoch})")
        return Hint("decay_ignored", f"your step size in epoch {epoch} is {step_size:g} x {used:.6g}^{epoch}, "
                                     f"though this call's decay is {decay:g}: your train does not take its "
                                     f"decay from the decay argument")
    return None


# --- assignment 1: the layers ----------------------------------------------------------------
def _twin(layer: Module) -> Linear:
    """minidl's Linear with a copy of ``layer``'s weight and bias (float64)."""
    out_features, in_features = layer.weight.shape
    twin = Linear(in_features, out_features, dtype=F64)
    twin.load_state_dict({"weight": layer.weight, "bias": layer.bias})
    return twin


def check_linear_forward(Linear_: type, *, n: int, in_features: int, out_features: int, seed: int) -> None:
    """A student's ``Linear.forward`` equals minidl's on the same weights (Step 1 of Section III-B)."""
    g = torch.Generator().manual_seed(seed)
    layer = Linear_(in_features, out_features, generator=g, dtype=F64)
    x = torch.randn(n, in_features, generator=g, dtype=F64)
    what = (f"Linear({in_features}, {out_features}).forward on x of shape (N, in) = {(n, in_features)}: "
            f"s = x w^T + b (Step 1 of Section III-B), shape (N, out)")
    expected = _twin(layer).forward(x)
    try:
        got = layer.forward(x)
    except NotImplementedError:         # the release's stub: not a mistake to name
        raise
    except RuntimeError as error:       # a torch shape error in the student's code
        raise CheckFailure(f"{what}: your forward raised {_first_line(error)}",
                           Hint("forward_shapes", f"forward got x {tuple(x.shape)}, weight "
                                                  f"{tuple(layer.weight.shape)}; s = x w^T + b should be "
                                                  f"{(n, out_features)}")) from None
    with hinted(likely_mistake(got, expected, what="your s = forward(x)",
                               notes={"transposed": "s has one row per sample, shape (N, out)"})):
        error = expect_close(got, expected, what)
    report(f"Linear({in_features}, {out_features}).forward", [(what.split(": ", 1)[1], None, error)])


def check_linear_backward(Linear_: type, *, n: int, in_features: int, out_features: int, seed: int) -> None:
    """A student's ``Linear.backward`` (with minidl's forward, so that only backward is graded):
    the shapes, the kit's gradient checker (finite differences), minidl's backward on the same
    weights, and gradients that add up over two calls."""
    g = torch.Generator().manual_seed(seed)
    layer = reference_forward(Linear_(in_features, out_features, generator=g, dtype=F64))
    x = torch.randn(n, in_features, generator=g, dtype=F64)
    r = torch.randn(n, out_features, generator=g, dtype=F64)
    name = f"Linear({in_features}, {out_features}).backward on a batch of N = {n}"
    labels = [f"dl/dx, returned (eq. (2), shape (N, in) = {(n, in_features)})",
              f"grad_weight (eq. (4) summed over the N samples, shape (out, in) = {(out_features, in_features)})",
              f"grad_bias (eq. (5) summed over the N samples, shape (out,) = {(out_features,)})"]
    twin = _twin(layer)
    twin.forward(x)
    expected = twin.backward(r)
    wants = [want.clone() for _, want in twin.param()]
    layer.forward(x)
    layer.zero_grad()
    try:
        returned = layer.backward(r)
    except NotImplementedError:         # the release's stub: not a mistake to name
        raise
    except RuntimeError as error:       # a torch shape error in the student's code
        raise CheckFailure(f"{name}: your backward raised {_first_line(error)}",
                           _linear_backward_shapes(Linear_, n=n, in_features=in_features,
                                                   out_features=out_features, seed=seed)) from None
    grads = [grad.clone() if isinstance(grad, torch.Tensor) else grad for _, grad in layer.param()] + [None, None]
    hint = (likely_mistake(returned, expected, what="your dl/dx (returned)", n=n,
                           notes={"transposed": "eq. (2) is g w, shapes (N, out)(out, in) -> (N, in)"})
            or likely_mistake(grads[0], wants[0], what="your dl/dw (grad_weight)", n=n,
                              notes={"transposed": "eq. (4) is g^T x, shapes (out, N)(N, in) -> (out, in)"})
            or likely_mistake(grads[1], wants[1], what="your dl/db (grad_bias)", n=n,
                              notes={"divided_by_n": "eq. (5) adds up the N samples' dl/db"}))
    with hinted(hint):
        expect_shape(returned, (n, in_features), f"{name}: {labels[0]}")
        for label, (value, grad) in zip(labels[1:], layer.param()):
            expect_shape(grad, value.shape, f"{name}: {label}")
        against_fd = expect_gradients(check_module(layer, x, generator=g, name=name), labels)
        layer.forward(x)
        layer.zero_grad()
        against_minidl = [expect_close(layer.backward(r), expected, f"{name} against minidl's Linear: {labels[0]}")]
        for label, (_, grad), want in zip(labels[1:], layer.param(), wants):
            against_minidl.append(expect_close(grad, want, f"{name} against minidl's Linear: {label}"))
    layer.forward(x)
    layer.backward(r)
    for label, (_, grad), want in zip(labels[1:], layer.param(), wants):
        replaced = (want, f"after two backward calls without zero_grad your {label.split(' ')[0]} holds the "
                          f"gradient of one call: the second call replaced the first instead of adding to it")
        with hinted(likely_mistake(grad, 2 * want, what=f"your {label.split(' ')[0]}",
                                   alternatives={"not_accumulating": replaced})):
            expect_close(grad, 2 * want, f"{name}, called twice without zero_grad: {label} must add up "
                                         f"(use +=, as the docstring says)")
    report(name, list(zip(labels, against_fd, against_minidl)))


def _linear_backward_shapes(Linear_: type, *, n: int, in_features: int, out_features: int, seed: int) -> Hint:
    """The likely mistake of a ``Linear.backward`` that raised a torch shape error: the student's
    backward is run again on fresh layers whose grad_weight (or grad_bias) has the shape that
    their code seems to compute; if it then runs and gives the transposed eq. (4) (or one row
    of dl/db per sample), that is the mistake. Else: the shapes of every quantity."""
    def case(attribute: str | None, shape: tuple[int, ...]):
        g = torch.Generator().manual_seed(seed)
        layer = reference_forward(Linear_(in_features, out_features, generator=g, dtype=F64))
        x = torch.randn(n, in_features, generator=g, dtype=F64)
        r = torch.randn(n, out_features, generator=g, dtype=F64)
        if attribute is not None:
            setattr(layer, attribute, torch.zeros(shape, dtype=F64))
        layer.forward(x)
        return layer, x, r

    probes = [("transposed", "grad_weight", (in_features, out_features), lambda x, r: (r.T @ x).T,
               f"your dl/dw (grad_weight) comes out with shape (in, out) = {(in_features, out_features)}, the "
               f"transpose of eq. (4): g^T x, shapes (out, N)(N, in) -> (out, in) = {(out_features, in_features)}"),
              ("not_summed", "grad_bias", (n, out_features), lambda x, r: r,
               f"your dl/db (grad_bias) comes out with one row per sample, shape (N, out) = {(n, out_features)}: "
               f"eq. (5) is summed over the N samples, shape (out,) = {(out_features,)}")]
    for key, attribute, shape, signature, text in probes:
        layer, x, r = case(attribute, shape)
        try:
            layer.backward(r)
        except Exception:               # noqa: BLE001 (not this mistake)
            continue
        got = getattr(layer, attribute)
        if isinstance(got, torch.Tensor) and matches(got, signature(x, r)):
            return Hint(key, text)
    return Hint("backward_shapes", f"backward got g = dl/ds {(n, out_features)}, x {(n, in_features)}, weight "
                                   f"{(out_features, in_features)}; eq. (2) dl/dx = g w should be "
                                   f"{(n, in_features)}, eq. (4) dl/dw = g^T x {(out_features, in_features)}, "
                                   f"eq. (5) dl/db {(out_features,)}")


def check_activation_backward(cls: type, *, shape: tuple[int, ...], seed: int) -> None:
    """A student's ``ReLU`` or ``Tanh`` backward: eq. (3), by the kit's gradient checker (on
    inputs away from ReLU's kink) and against minidl's layer of the same name."""
    reference = {"ReLU": ReLU, "Tanh": Tanh}[cls.__name__]
    g = torch.Generator().manual_seed(seed)
    s = away_from_zero(torch.randn(*shape, generator=g, dtype=F64))
    r = torch.randn(*shape, generator=g, dtype=F64)
    name = f"{cls.__name__}.backward on s of shape {tuple(shape)}"
    label = f"dl/ds = dl/dx * sigma'(s), element-wise (eq. (3)), shape {tuple(shape)}"
    layer = cls()
    layer.forward(s)
    got = layer.backward(r)
    twin = reference()
    twin.forward(s)
    expected = twin.backward(r)
    hint = likely_mistake(got, expected, what="your dl/ds", s=s if reference is ReLU else None,
                          alternatives=_activation_signatures(cls.__name__, s, r))
    with hinted(hint):
        expect_shape(got, shape, f"{name}: {label}")
        [against_fd] = expect_gradients(check_module(layer, s, generator=g, name=name), [label])
        layer.forward(s)
        against_minidl = expect_close(layer.backward(r), expected, f"{name} against minidl's {cls.__name__}: {label}")
    report(name, [(label, against_fd, against_minidl)])


def _activation_signatures(name: str, s: torch.Tensor, r: torch.Tensor) -> dict[str, tuple[torch.Tensor, str]]:
    """What known wrong backwards of ReLU or Tanh give for the input ``s`` and dl/dx = ``r``."""
    if name == "ReLU":
        return {"mask_from_wrong_tensor": (r * (r > 0), "your dl/ds keeps dl/dx where dl/dx > 0: the mask "
                                                        "follows the sign of the incoming gradient, not of s"),
                "times_output": (r * s.clamp(min=0), "your dl/ds is dl/dx times ReLU(s), the activation itself, "
                                                     "not its derivative sigma'(s)")}
    x = torch.tanh(s)
    return {"sigma_prime_of_output": (r * (1 - torch.tanh(x) ** 2),
                                      "your dl/ds is dl/dx (1 - tanh(x)^2) with x = tanh(s) the layer's output: "
                                      "tanh is applied twice (sigma'(s) = 1 - tanh(s)^2 takes s; written with "
                                      "the output it is 1 - x^2)"),
            "sigma_prime_of_input": (r * (1 - s ** 2), "your dl/ds is dl/dx (1 - s^2): the form 1 - x^2 of "
                                                       "sigma' takes the output x = tanh(s), not the input s"),
            "derivative_not_squared": (r * (1 - x), "your dl/ds is dl/dx (1 - x) with x = tanh(s): "
                                                    "sigma'(s) = 1 - tanh(s)^2 squares the output"),
            "times_output": (r * x, "your dl/ds is dl/dx times tanh(s), the activation itself, not its "
                                    "derivative sigma'(s)")}


def check_mse_gradient(cls: type, *, n: int, outputs: int, seed: int) -> None:
    """A student's ``MSE.compute_grad``: eq. (1) for each sample, divided by N (the loss is a
    mean over samples), by the kit's gradient checker and against minidl's ``MSE``."""
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(n, outputs, generator=g, dtype=F64)
    t = torch.randn(n, outputs, generator=g, dtype=F64)
    label = (f"dL/d(predictions) = 2 (predictions - targets) / N (eq. (1) for each sample, divided by "
             f"the N = {n} samples of the mean), shape (N, C) = {(n, outputs)}")
    got, expected = cls.compute_grad(p.clone(), t), MSE.compute_grad(p.clone(), t)
    half = (expected / 2, "your dL/d(predictions) is half the expected one: either the factor 2 of the "
                          "derivative of (p - t)^2, 2 (p - t), is missing, or you divided by the C = 2 outputs "
                          "too (the per-element mean of torch.nn.MSELoss; the paper's loss sums over the outputs)")
    per_element = (expected / outputs, f"your dL/d(predictions) is the expected one divided by C = {outputs}, the "
                                       f"number of outputs: that is the per-element mean of torch.nn.MSELoss; the "
                                       f"paper's loss sums over the outputs and averages over the N samples only")
    alternatives = {"half": half} if outputs == 2 else {"per_element_mean": per_element, "half": half}
    hint = likely_mistake(got, expected, what="your dL/d(predictions)", n=n, alternatives=alternatives,
                          notes={"times_n": "the loss is the mean over the N samples, so its gradient carries 1/N",
                                 "negated": "eq. (1) is the derivative with respect to the prediction"})
    with hinted(hint):
        expect_shape(got, (n, outputs), f"MSE.compute_grad: {label}")
        [against_fd] = expect_gradients(check_loss(cls, p, t), [label],
                                        "compute_grad is not the derivative of compute_loss")
        against_minidl = expect_close(cls.compute_grad(p.clone(), t), expected,
                                      f"MSE.compute_grad against minidl's MSE: {label}")
    report(f"MSE.compute_grad on N = {n} samples", [(label, against_fd, against_minidl)])


# --- assignment 2: training -----------------------------------------------------------------
def _small_network(seed: int) -> Sequential:
    g = torch.Generator().manual_seed(seed)
    return Sequential(Linear(3, 4, dtype=F64, generator=g), Tanh(), Linear(4, 2, dtype=F64, generator=g))


def _pair_names(model: Sequential) -> list[tuple[str, str]]:
    """(label, the layer and equation) of every (value, gradient) pair of ``model.param()``:
    ("layer 0 weight", "Linear(in_features=3, out_features=4), eq. (6)")."""
    names = []
    for k, layer in enumerate(model.layers):
        names += [(f"layer {k} weight", f"{layer!r}, eq. (6)"),
                  (f"layer {k} bias", f"{layer!r}, eq. (7)")][:len(layer.param())]
    return names


def check_gradient_step(gradient_step: Callable, *, step_size: float, seed: int) -> None:
    """A student's ``gradient_step(model, step_size)``: eqs. (6) and (7) on every parameter of
    a small network, in place (the model keeps the same tensors)."""
    model = _small_network(seed)
    g = torch.Generator().manual_seed(seed + 1)
    for _, grad in model.param():
        grad.copy_(torch.randn(grad.shape, generator=g, dtype=F64))
    before = [(value, value.clone(), grad.clone()) for value, grad in model.param()]
    gradient_step(model, step_size)
    errors = []
    for (label, equation), (value, old, grad), (now, _) in zip(_pair_names(model), before, model.param()):
        name = f"{label} ({equation})"
        if now is not value:
            raise AssertionError(f"gradient_step: {name}: model.param() holds new tensors; update the "
                                 f"values in place (value -= step_size * grad)")
        if torch.equal(now, old):
            raise CheckFailure(f"gradient_step: {name} did not change; update it in place: "
                               f"value -= step_size * grad (a new tensor bound to a name changes nothing)",
                               Hint("not_updated", f"model.param() still holds the same tensor for {label}, "
                                                   f"unchanged: the new value went to another tensor"))
        hint = likely_mistake(now - old, -step_size * grad, what=f"your step of {label} (new value - old value)",
                              alternatives={"no_step_size": (-grad, f"your step of {label} is -dl/dw: the step "
                                                                    f"size is missing")})
        with hinted(hint):
            errors.append(expect_close(now, old - step_size * grad, f"gradient_step(model, step_size={step_size}): "
                                       f"{name}, w <- w - eta dl/dw, shape {tuple(old.shape)}"))
    print(f"gradient_step(model, step_size={step_size}): passed\n  eqs. (6), (7) on the {len(errors)} parameters "
          f"of a 3-4-2 network (Linear, Tanh, Linear): largest relative error {max(errors):.1e} against w - eta dl/dw, every tensor updated in place")


def check_training(train: Callable, network: Callable, *, epochs: int, seed: int,
                   step_size: float = 0.01, threshold: float = 0.95) -> float:
    """Train ``network(generator)`` (the paper's 2-25-25-25-2) with the student's ``train`` on
    1000 points of the disk data set for ``epochs`` epochs; its accuracy on 1000 fresh test
    points must reach ``threshold``. Returns the test accuracy. The notebook's ``gradient_step``
    is a correct one meanwhile (``correct_gradient_step``)."""
    g = torch.Generator().manual_seed(seed)
    x, y = build_data(1000, generator=g)
    x_test, y_test = build_data(1000, generator=g)
    model = network(g)
    targets = one_hot(y, 2, x.dtype)
    with correct_gradient_step(train):
        losses = train(model, x, targets, epochs=epochs, step_size=step_size, decay=0.9, generator=g)
    if not isinstance(losses, list) or len(losses) != epochs:
        raise AssertionError(f"train: expected a list of {epochs} training losses (one per epoch), got "
                             f"{type(losses).__name__} of length {len(losses) if hasattr(losses, '__len__') else '?'}")
    if not all(torch.isfinite(torch.tensor(losses))):
        raise AssertionError(f"train: the loss is not finite ({losses}): training diverged")
    accuracy = float((model.forward(x_test).argmax(1) == y_test).double().mean())
    if accuracy < threshold:
        raise AssertionError(
            f"the paper's network trained by your train for {epochs} epochs (step size {step_size}, decay 0.9, "
            f"seed {seed}) reaches a test accuracy of {accuracy:.3f}, expected at least {threshold}; the "
            f"training loss went from {losses[0]:.4f} (after epoch 1) to {losses[-1]:.4f}")
    return accuracy


# --- assignment 3: momentum and batches -------------------------------------------------------
def _gradient_sequence(shapes: list[torch.Size], steps: int, seed: int) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(shape, generator=g, dtype=F64) for shape in shapes] for _ in range(steps)]


def check_momentum_step(MomentumSGD: type, *, momentum: float, step_size: float, steps: int, seed: int) -> None:
    """A student's ``MomentumSGD(params, momentum).step(step_size)`` takes the same steps as
    minidl's ``SGD`` (the paper's EMA momentum) on a small network, for a sequence of gradients."""
    ours, theirs = _small_network(seed), _small_network(seed)
    optimizer, reference = MomentumSGD(ours.param(), momentum), SGD(theirs.param(), momentum)
    names = _pair_names(ours)
    for step, grads in enumerate(_gradient_sequence([v.shape for v, _ in ours.param()], steps, seed + 1)):
        for (_, a), (_, b), grad in zip(ours.param(), theirs.param(), grads):
            a.copy_(grad)
            b.copy_(grad)
        previous = [want.clone() for want, _ in theirs.param()]
        optimizer.step(step_size)
        reference.step(step_size)
        for (label, _), (value, _), (want, _), old, grad in zip(names, ours.param(), theirs.param(), previous, grads):
            alone = (-step_size * (1 - momentum) * grad,
                     f"your step of {label} is -eta (1 - beta) g with g this step's gradient alone: the velocity "
                     f"of the earlier steps was not kept")
            plain = (-step_size * grad, f"your step of {label} is the plain gradient step -eta g: the velocity "
                                        f"V plays no part in it")
            hint = likely_mistake(value - old, want - old, what=f"your step of {label} (new value - old value)",
                                  beta=momentum, alternatives={"velocity_not_kept": alone, "plain_sgd": plain},
                                  notes={"times_1_over_1_minus_beta": "the paper's velocity puts the factor "
                                                                      "(1 - beta) on g"})
            with hinted(hint):
                expect_close(value, want, f"MomentumSGD(momentum={momentum}).step({step_size}), step {step + 1} "
                                          f"of {steps}: {label}, V = beta V + (1 - beta) g and "
                                          f"w <- w - eta V (Section V-B), shape {tuple(want.shape)}")


class TorchSGD:
    """``torch.optim.SGD(params, **arguments)``'s steps without the class, whose constructor
    imports ``torch._dynamo`` (1 s of CPU, in the notebook and again in its clean re-check): the
    arguments bound to ``torch.optim.SGD``'s own signature (its names and defaults; a TypeError
    for any other) and checked as its constructor checks them; each ``step()`` calls torch's
    SGD function, ``torch.optim.sgd.sgd``, as ``SGD.step`` does, on the tensors and their
    ``.grad``, with the momentum buffers kept between steps as the optimizer's state keeps them
    (tests/test_grading.py: the same steps as ``torch.optim.SGD``)."""

    def __init__(self, params, **arguments) -> None:
        bound = inspect.signature(torch.optim.SGD).bind(params, **arguments)
        bound.apply_defaults()
        self.params, self.group = list(params), {k: v for k, v in bound.arguments.items() if k != "params"}
        group = self.group
        for name, what in (("lr", "learning rate"), ("momentum", "momentum value"),
                           ("weight_decay", "weight_decay value")):
            if group[name] < 0.0:
                raise ValueError(f"Invalid {what}: {group[name]}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if group["fused"] and group["foreach"]:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        self.buffers = [None] * len(self.params)

    def step(self) -> None:
        group = self.group
        with torch.no_grad():
            torch_sgd_step(self.params, [p.grad for p in self.params], self.buffers,
                           weight_decay=group["weight_decay"], momentum=group["momentum"], lr=group["lr"],
                           dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"],
                           foreach=group["foreach"], fused=group["fused"])


def check_torch_equivalence(torch_sgd_arguments: Callable, *, step_size: float, momentum: float,
                            steps: int, seed: int) -> None:
    """``torch.optim.SGD(params, **torch_sgd_arguments(step_size, momentum))`` takes the same
    steps as minidl's ``SGD(params, momentum).step(step_size)`` (the paper's momentum); torch's
    steps taken by ``TorchSGD``, torch.optim.SGD's own step function without the class."""
    arguments = torch_sgd_arguments(step_size, momentum)
    if not isinstance(arguments, dict):
        raise AssertionError(f"torch_sgd_arguments: expected a dict of torch.optim.SGD's arguments "
                             f"(lr=..., momentum=...), got {type(arguments).__name__}")
    model = _small_network(seed)
    tensors = [value.clone().requires_grad_(True) for value, _ in model.param()]
    ours = SGD(model.param(), momentum)
    theirs = TorchSGD(tensors, **arguments)
    names = _pair_names(model)
    for step, grads in enumerate(_gradient_sequence([t.shape for t in tensors], steps, seed + 1)):
        for (_, grad), tensor, new in zip(model.param(), tensors, grads):
            grad.copy_(new)
            tensor.grad = new.clone()
        previous = [value.clone() for value, _ in model.param()]
        ours.step(step_size)
        theirs.step()
        for (label, _), (value, _), tensor, old in zip(names, model.param(), tensors, previous):
            hint = likely_mistake(tensor.detach() - old, value - old, beta=momentum,
                                  what=f"the step of torch.optim.SGD with your arguments, for {label},",
                                  notes={"times_1_over_1_minus_beta": "torch.optim.SGD's velocity is "
                                                                      "V = beta V + g, without the paper's "
                                                                      "factor (1 - beta) on g"})
            with hinted(hint):
                expect_close(tensor.detach(), value,
                             f"torch.optim.SGD(**{arguments}) against the paper's momentum (eta={step_size}, "
                             f"beta={momentum}) at step {step + 1} of {steps}: {label}")


def check_mean_of_sample_gradients(mean_of_sample_gradients: Callable, *, n: int, seed: int) -> None:
    """A student's ``mean_of_sample_gradients(model, x, t)`` (one forward and backward per
    sample) equals the gradient of one forward and backward on the whole batch: the MSE over
    a batch is the mean of the samples' losses, so its gradient is the mean of theirs."""
    model = _small_network(seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, 3, generator=g, dtype=F64)
    t = torch.randn(n, 2, generator=g, dtype=F64)
    model.zero_grad()
    model.backward(MSE.compute_grad(model.forward(x), t))
    batch = [grad.clone() for _, grad in model.param()]
    model.zero_grad()
    means = mean_of_sample_gradients(model, x, t)
    if not isinstance(means, (list, tuple)) or len(means) != len(batch):
        raise AssertionError(f"mean_of_sample_gradients: expected a list of {len(batch)} tensors, one per "
                             f"(value, gradient) pair of model.param(), got {type(means).__name__}"
                             f"{' of length %d' % len(means) if hasattr(means, '__len__') else ''}")
    means = [mean.clone() if isinstance(mean, torch.Tensor) else mean for mean in means]
    model.zero_grad()                   # the last sample's gradient: what a list of aliases holds
    model.backward(MSE.compute_grad(model.forward(x[-1:]), t[-1:]))
    last = [grad.clone() for _, grad in model.param()]
    for (label, _), mean, want, alias in zip(_pair_names(model), means, batch, last):
        same = (alias, f"your mean of {label} equals the last sample's gradient alone: every entry of your "
                       f"list is the one gradient tensor of model.param(), which each zero_grad and backward "
                       f"overwrite")
        hint = likely_mistake(mean, want, what=f"your mean of {label}", n=n, alternatives={"last_sample_only": same},
                              notes={"times_n": "a sum over the samples, not a mean"})
        with hinted(hint):
            expect_close(mean, want, f"mean over the N = {n} samples of dl_i/dw against the batch gradient "
                                     f"dL/dw of one forward and backward: {label}, shape {tuple(want.shape)}")


# --- the teacher's table ------------------------------------------------------------------------
def grades_table(path: str, submitted: str | None = None, autograded: str | None = None) -> str:
    """nbgrader's ``export`` (one row per student and assignment) as a table: one row per
    student, one column per assignment (``score/max``) and the total. With ``submitted`` (the
    course's ``submitted/`` folder), an assignment a student did not hand in shows ``-``
    (nbgrader's export counts it as 0 and gives no other sign of it). With ``autograded``, the
    flags ``minidl.lab.regrade`` wrote for a submission (a test cell the notebook and the clean
    re-check disagree on, a notebook that could not be graded) mark its score with ``!`` and
    are listed under the table."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assignments = sorted({row["assignment"] for row in rows})
    maxima = {row["assignment"]: float(row["max_score"]) for row in rows}
    students = sorted({row["student_id"] for row in rows})
    scores = {(row["student_id"], row["assignment"]): float(row["score"]) for row in rows}
    header = ["student", *assignments, "total"]
    lines, notes = [], []
    for student in students:
        cells = []
        for a in assignments:
            if submitted is not None and not os.path.isdir(os.path.join(submitted, student, a)):
                cells.append("-")
                continue
            flags = _flags(autograded, student, a)
            notes += [f"! {student} {a}: {flag}" for flag in flags]
            cells.append(f"{scores[student, a]:g}/{maxima[a]:g}{'!' if flags else ''}")
        total = sum(scores.get((student, a), 0.0) for a in assignments)
        lines.append([student, *cells, f"{total:g}/{sum(maxima.values()):g}"])
    return "\n".join([text_table(header, lines), *notes])


def _flags(autograded: str | None, student: str, assignment: str) -> list[str]:
    """The flags minidl.lab.regrade recorded for a submission (none if it recorded nothing)."""
    if autograded is None:
        return []
    try:
        with open(os.path.join(autograded, student, assignment, ".minidl-grading.json")) as file:
            return list(json.load(file)["flags"])
    except (OSError, ValueError, KeyError):
        return []


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3, 4):
        sys.exit("usage: python -m minidl.lab.grading course/grades.csv [course/submitted [course/autograded]]")
    print(grades_table(*sys.argv[1:]))
