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
  with one seed and shape, hidden tests with others);
- ``grades_table``: nbgrader's ``grades.csv`` as a table of students by assignment
  (``python -m minidl.lab.grading course/grades.csv``, the end of ``make grade``).
"""
from __future__ import annotations

import csv
import json
import os
import sys
from typing import Callable, NamedTuple

import torch

from .. import MSE, SGD, Linear, Module, ReLU, Sequential, Tanh, build_data
from ..optim import decayed_step_size
from ..utils import one_hot
from .gradcheck import GradCheckResult, away_from_zero, check_loss, check_module, relative_error
from .tables import text_table

F64 = torch.float64


def expect_shape(got, shape: tuple[int, ...], what: str) -> None:
    """``got`` is a tensor of shape ``shape``; else AssertionError naming ``what``."""
    shape = tuple(shape)
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what}: expected a torch.Tensor of shape {shape}, got {type(got).__name__}")
    if tuple(got.shape) != shape:
        raise AssertionError(f"{what}: expected shape {shape}, got {tuple(got.shape)}")


def expect_close(got, expected: torch.Tensor, what: str, *, tolerance: float = 1e-10) -> None:
    """``got`` has ``expected``'s shape and values, to a relative error of ``tolerance``
    (``minidl.lab.gradcheck.relative_error``); else AssertionError with the worst entry."""
    expect_shape(got, expected.shape, what)
    error, index, yours, wanted = relative_error(got.detach(), expected.detach())
    if not error <= tolerance:
        raise AssertionError(f"{what}: largest relative error {error:.3g} (tolerance {tolerance:g}) at "
                             f"entry {index}: yours is {yours:.6g}, expected {wanted:.6g}")


def expect_gradients(result: GradCheckResult, labels: list[str]) -> None:
    """Pass if the gradient check passed; else AssertionError naming, for each failing gradient,
    ``labels[k]`` (its equation: the k-th quantity checked, ``'input'`` first, then the
    parameters in ``param()`` order), its error and its worst entry."""
    if result.passed:
        return
    label_of = dict(zip(result.errors, labels + list(result.errors)[len(labels):]))
    lines = [f"- {label_of[quantity]}: relative error {error:.3g} against finite differences (threshold "
             f"{result.threshold:g}); worst at entry {index}: yours is {yours:.6g}, finite differences give "
             f"{numerical:.6g}" for quantity, error, index, yours, numerical in result.failing()]
    raise AssertionError(f"{result.name}: backward is not the derivative of forward\n" + "\n".join(lines))


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


def expect_algorithm_1(train: Callable, *, n: int = 12, epochs: int = 3, step_size: float = 0.1,
                       decay: float = 0.9, seed: int = 0) -> None:
    """Run ``train(model, x, t, epochs=, step_size=, decay=, generator=)`` on a
    ``RecordingModel`` and check Algorithm 1: every epoch takes each of the ``n`` samples once,
    one per step, in a fresh random order; each step lowers ``w`` by the epoch's step size
    ``step_size * decay**epoch`` (eqs. (6)-(7) after ``zero_grad``)."""
    model = RecordingModel()
    x = torch.stack([torch.arange(n, dtype=F64), torch.zeros(n, dtype=F64)], dim=1)   # x[i, 0] = i
    t = torch.zeros(n, 2, dtype=F64)
    train(model, x, t, epochs=epochs, step_size=step_size, decay=decay,
          generator=torch.Generator().manual_seed(seed))
    steps = model.training_steps()
    shapes = sorted({tuple(inputs.shape) for inputs, _ in steps})
    if shapes and shapes != [(1, 2)]:
        raise AssertionError(f"Algorithm 1, line 4: each step takes one sample, an input of shape (1, 2) "
                             f"(e.g. x[i:i + 1]); yours took inputs of shapes {shapes}")
    if len(steps) != n * epochs:
        raise AssertionError(f"Algorithm 1: {epochs} epochs of {n} samples make {n * epochs} steps "
                             f"(forward, backward, gradient step), your train made {len(steps)}")
    w_after = float(model.w)
    orders = []
    for epoch in range(epochs):
        chunk = steps[epoch * n:(epoch + 1) * n]
        order = [int(inputs[0, 0]) for inputs, _ in chunk]
        if sorted(order) != list(range(n)):
            raise AssertionError(f"Algorithm 1, epoch {epoch}: every sample once per epoch; your order of "
                                 f"samples was {order}")
        orders.append(order)
        eta = decayed_step_size(step_size, decay, epoch)
        ws = [w for _, w in chunk] + [steps[(epoch + 1) * n][1] if epoch + 1 < epochs else w_after]
        for k, (before, after) in enumerate(zip(ws, ws[1:])):
            if abs((before - after) - eta) > 1e-9 * max(1.0, abs(eta)):
                hint = (" The gradient grew from step to step: call zero_grad() before backward "
                        "(backward adds to the stored gradients)." if before - after > eta else
                        " Nothing changed: update the parameters in place (w -= eta * grad)."
                        if before == after else "")
                raise AssertionError(
                    f"Algorithm 1, epoch {epoch}, step {k}: with dl/dw = 1 a step of eqs. (6)-(7) lowers w "
                    f"by the step size {step_size} x {decay}^{epoch} = {eta:.6g}; yours lowered it by "
                    f"{before - after:.6g}.{hint}")
    if epochs > 1 and all(order == orders[0] for order in orders):
        raise AssertionError(f"Algorithm 1, line 3: shuffle the samples at every epoch; yours took the "
                             f"same order {orders[0]} in all {epochs} epochs")


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
    expect_close(layer.forward(x), _twin(layer).forward(x), what)


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
    layer.forward(x)
    layer.zero_grad()
    returned = layer.backward(r)
    expect_shape(returned, (n, in_features), f"{name}: {labels[0]}")
    for label, (value, grad) in zip(labels[1:], layer.param()):
        expect_shape(grad, value.shape, f"{name}: {label}")
    expect_gradients(check_module(layer, x, generator=g, name=name), labels)
    twin = _twin(layer)
    twin.forward(x)
    expected = twin.backward(r)
    layer.forward(x)
    layer.zero_grad()
    expect_close(layer.backward(r), expected, f"{name} against minidl's Linear: {labels[0]}")
    for label, (_, grad), (_, want) in zip(labels[1:], layer.param(), twin.param()):
        expect_close(grad, want, f"{name} against minidl's Linear: {label}")
    layer.forward(x)
    layer.backward(r)
    for label, (_, grad), (_, want) in zip(labels[1:], layer.param(), twin.param()):
        expect_close(grad, 2 * want, f"{name}, called twice without zero_grad: {label} must add up "
                                     f"(use +=, as the docstring says)")


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
    expect_shape(layer.backward(r), shape, f"{name}: {label}")
    expect_gradients(check_module(layer, s, generator=g, name=name), [label])
    twin = reference()
    twin.forward(s)
    layer.forward(s)
    expect_close(layer.backward(r), twin.backward(r), f"{name} against minidl's {cls.__name__}: {label}")


def check_mse_gradient(cls: type, *, n: int, outputs: int, seed: int) -> None:
    """A student's ``MSE.compute_grad``: eq. (1) for each sample, divided by N (the loss is a
    mean over samples), by the kit's gradient checker and against minidl's ``MSE``."""
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(n, outputs, generator=g, dtype=F64)
    t = torch.randn(n, outputs, generator=g, dtype=F64)
    label = (f"dL/d(predictions) = 2 (predictions - targets) / N (eq. (1) for each sample, divided by "
             f"the N = {n} samples of the mean), shape (N, C) = {(n, outputs)}")
    expect_shape(cls.compute_grad(p.clone(), t), (n, outputs), f"MSE.compute_grad: {label}")
    expect_gradients(check_loss(cls, p, t), [label])
    expect_close(cls.compute_grad(p.clone(), t), MSE.compute_grad(p.clone(), t),
                 f"MSE.compute_grad against minidl's MSE: {label}")


# --- assignment 2: training -----------------------------------------------------------------
def _small_network(seed: int) -> Sequential:
    g = torch.Generator().manual_seed(seed)
    return Sequential(Linear(3, 4, dtype=F64, generator=g), Tanh(), Linear(4, 2, dtype=F64, generator=g))


def _pair_names(model: Sequential) -> list[str]:
    names = []
    for k, layer in enumerate(model.layers):
        names += [f"layer {k} ({layer!r}) weight, eq. (6)", f"layer {k} ({layer!r}) bias, eq. (7)"][:len(layer.param())]
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
    for name, (value, old, grad), (now, _) in zip(_pair_names(model), before, model.param()):
        if now is not value:
            raise AssertionError(f"gradient_step: {name}: model.param() holds new tensors; update the "
                                 f"values in place (value -= step_size * grad)")
        if torch.equal(now, old):
            raise AssertionError(f"gradient_step: {name} did not change; update it in place: "
                                 f"value -= step_size * grad (a new tensor bound to a name changes nothing)")
        expect_close(now, old - step_size * grad, f"gradient_step(model, step_size={step_size}): {name}, "
                                                 f"w <- w - eta dl/dw, shape {tuple(old.shape)}")


def check_training(train: Callable, network: Callable, *, epochs: int, seed: int,
                   step_size: float = 0.01, threshold: float = 0.95) -> float:
    """Train ``network(generator)`` (the paper's 2-25-25-25-2) with the student's ``train`` on
    1000 points of the disk data set for ``epochs`` epochs; its accuracy on 1000 fresh test
    points must reach ``threshold``. Returns the test accuracy."""
    g = torch.Generator().manual_seed(seed)
    x, y = build_data(1000, generator=g)
    x_test, y_test = build_data(1000, generator=g)
    model = network(g)
    targets = one_hot(y, 2, x.dtype)
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
        optimizer.step(step_size)
        reference.step(step_size)
        for name, (value, _), (want, _) in zip(names, ours.param(), theirs.param()):
            expect_close(value, want, f"MomentumSGD(momentum={momentum}).step({step_size}), step {step + 1} "
                                      f"of {steps}: {name.split(',')[0]}, V = beta V + (1 - beta) g and "
                                      f"w <- w - eta V (Section V-B), shape {tuple(want.shape)}")


def check_torch_equivalence(torch_sgd_arguments: Callable, *, step_size: float, momentum: float,
                            steps: int, seed: int) -> None:
    """``torch.optim.SGD(params, **torch_sgd_arguments(step_size, momentum))`` takes the same
    steps as minidl's ``SGD(params, momentum).step(step_size)`` (the paper's momentum)."""
    arguments = torch_sgd_arguments(step_size, momentum)
    if not isinstance(arguments, dict):
        raise AssertionError(f"torch_sgd_arguments: expected a dict of torch.optim.SGD's arguments "
                             f"(lr=..., momentum=...), got {type(arguments).__name__}")
    model = _small_network(seed)
    tensors = [value.clone().requires_grad_(True) for value, _ in model.param()]
    ours = SGD(model.param(), momentum)
    theirs = torch.optim.SGD(tensors, **arguments)
    names = _pair_names(model)
    for step, grads in enumerate(_gradient_sequence([t.shape for t in tensors], steps, seed + 1)):
        for (_, grad), tensor, new in zip(model.param(), tensors, grads):
            grad.copy_(new)
            tensor.grad = new.clone()
        ours.step(step_size)
        theirs.step()
        for name, (value, _), tensor in zip(names, model.param(), tensors):
            expect_close(tensor.detach(), value,
                         f"torch.optim.SGD(**{arguments}) against the paper's momentum (eta={step_size}, "
                         f"beta={momentum}) at step {step + 1} of {steps}: {name.split(',')[0]}")


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
    for name, mean, want in zip(_pair_names(model), means, batch):
        expect_close(mean, want, f"mean over the N = {n} samples of dl_i/dw against the batch gradient dL/dw "
                                 f"of one forward and backward: {name.split(',')[0]}, shape {tuple(want.shape)}")


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
