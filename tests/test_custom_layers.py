"""A layer a student writes is a first-class citizen: ``fit`` trains it exactly as the plain loop
of notebook 04 (the solution of its exercise ``train``, read from the notebook and run here with
minidl's own gradient step) does, and the engine
(``engine='fast'``) refuses it with a message that names it and the plain alternative.

Each case is a layer a course invites: a learnable scale, the student's own ``Linear`` (first,
middle and last), a PReLU with a learnable slope, a layer whose state is made lazily in
``forward``, a dropout layer that behaves differently in training and evaluation mode, a layer
whose Python attribute a callback changes after each epoch, and a built-in method replaced in a
notebook (``Tanh.backward = ...``)."""
from __future__ import annotations

import json
import pathlib

import pytest
import torch

from helpers import Scale, generator
from minidl import ElementwiseMSE, Linear, Module, ReLU, Sequential, Tanh, build_data
from minidl.layers import Activation
from minidl.lab.gradcheck import check_module
from minidl.utils import one_hot

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "04_training.ipynb"
EPOCHS, STEP_SIZE, DECAY = 3, 0.01, 0.9


def notebook_train():
    """The ``train`` function of notebook 04 (Algorithm 1, the exercise's solution), executed from
    the notebook's own cell, with the per-element MSE (as the paper's table) and minidl's
    gradient step (``model.gradient_step``: the step ``fit``'s optimizer takes, bit for bit; the
    exercise's own ``value -= eta * grad`` rounds once more)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    [source] = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and "def train(" in "".join(c["source"])]
    namespace = {"torch": torch, "MSE": ElementwiseMSE, "gradient_step": lambda model, eta: model.gradient_step(eta)}
    exec(source, namespace)
    return namespace["train"]


train = notebook_train()


# --- the layers a student writes -----------------------------------------------------------
class StudentLinear(Module):
    """The student's own fully connected layer (assignment 1), declaring its sizes."""
    def __init__(self, in_features, out_features, seed):
        g = generator(seed)
        self.in_features, self.out_features = in_features, out_features
        self.weight = torch.rand(out_features, in_features, generator=g) * 2 - 1
        self.bias = torch.rand(out_features, generator=g) * 2 - 1
        self.grad_weight, self.grad_bias = torch.zeros_like(self.weight), torch.zeros_like(self.bias)

    def forward(self, x):
        self.x = x
        return x @ self.weight.T + self.bias

    def backward(self, g):
        self.grad_weight += g.T @ self.x
        self.grad_bias += g.sum(0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]


class PReLU(Module):
    """max(0, s) + a min(0, s), with a learnable slope a."""
    def __init__(self):
        self.a, self.grad_a = torch.full((1,), 0.25), torch.zeros(1)

    def forward(self, s):
        self.s = s
        return torch.where(s > 0, s, self.a * s)

    def backward(self, g):
        self.grad_a += (g * torch.clamp(self.s, max=0)).sum()
        return g * torch.where(self.s > 0, torch.ones(()), self.a)

    def param(self):
        return [(self.a, self.grad_a)]


class RunningCentre(Module):
    """Subtracts a running mean of its inputs, made at the first forward and updated in place in
    training mode only (as BatchNorm's running statistics); the mean counts as a constant."""
    def forward(self, x):
        if self.training:
            if not hasattr(self, "mean"):
                self.mean = x.mean(0).clone()               # state made lazily, in forward
            else:
                self.mean.mul_(0.9).add_(x.mean(0), alpha=0.1)
        return x - self.mean

    def backward(self, g):
        return g


class Dropout(Module):
    """Zeroes each input with probability p while training (and scales the rest by 1/(1-p));
    the identity in evaluation mode."""
    def __init__(self, p, seed):
        self.p, self.generator = p, generator(seed)

    def forward(self, x):
        if not self.training:
            return x
        self.mask = (torch.rand(x.shape, generator=self.generator) >= self.p).to(x.dtype) / (1 - self.p)
        return x * self.mask

    def backward(self, g):
        return g * self.mask


class Clamp(Module):
    """a * clamp(s, -cap, cap), with a learnable gain a; ``cap`` is a Python number a callback
    may change."""
    def __init__(self, cap):
        self.cap = cap
        self.a, self.grad_a = torch.ones(1), torch.zeros(1)

    def forward(self, s):
        self.s, self.clamped = s, s.clamp(-self.cap, self.cap)
        return self.a * self.clamped

    def backward(self, g):
        self.grad_a += (g * self.clamped).sum()
        return g * self.a * (self.s.abs() < self.cap).to(g.dtype)

    def param(self):
        return [(self.a, self.grad_a)]


# --- the comparison ---------------------------------------------------------------------------
def data():
    return build_data(200, generator=generator(1))


def plain_loop(model, between_epochs=None):
    """Notebook 04's loop, one epoch per call (so that ``between_epochs(epoch)`` can run where
    fit's callback does), with the decayed step size of each epoch."""
    x, y = data()
    g = generator(7)
    for epoch in range(EPOCHS):
        train(model, x, one_hot(y, 2, x.dtype), epochs=1, step_size=STEP_SIZE * DECAY ** epoch, decay=DECAY, generator=g)
        if between_epochs is not None:
            between_epochs(epoch)
    return model


def by_fit(model, between_epochs=None, engine="plain"):
    callback = None if between_epochs is None else (lambda epoch, logs: between_epochs(epoch))
    model.fit(*data(), *data(), epochs=EPOCHS, step_size=STEP_SIZE, decay=DECAY, loss="elementwise",
              generator=generator(7), callback=callback, engine=engine)
    return model


def weights(model):
    return [value.clone() for value, _ in model.param()]


def assert_fit_is_the_plain_loop(make, between=None):
    """``fit`` (with validation data and per-epoch metrics) trains ``make()`` to exactly the
    weights of notebook 04's loop, and every weight moved; the fast engine refuses it."""
    start = weights(make())
    looped_model, fitted_model = make(), make()
    plain_loop(looped_model, between(looped_model) if between else None)
    by_fit(fitted_model, between(fitted_model) if between else None)
    looped, fitted = weights(looped_model), weights(fitted_model)
    assert all(torch.equal(a, b) for a, b in zip(looped, fitted)), \
        f"largest difference {max((a - b).abs().max().item() for a, b in zip(looped, fitted)):.2e}"
    assert all(not torch.equal(a, s) for a, s in zip(fitted, start)), "a parameter did not train"
    refused = make()
    before = weights(refused)
    with pytest.raises(ValueError, match=r"engine='fast' cannot compile .*engine='plain'"):
        by_fit(refused, between(refused) if between else None, engine="fast")
    assert all(torch.equal(a, b) for a, b in zip(before, weights(refused)))


def linear(i, o, seed):
    return Linear(i, o, generator=generator(seed))


def test_a_learnable_scale_trains():
    assert_fit_is_the_plain_loop(lambda: Sequential(linear(2, 8, 0), Scale(), ReLU(), linear(8, 2, 1)))


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_the_students_own_linear_trains_wherever_it_stands(where):
    def make():
        layers = [linear(2, 8, 0), Tanh(), linear(8, 8, 1), ReLU(), linear(8, 2, 2)]
        index = {"first": 0, "middle": 2, "last": 4}[where]
        mine = layers[index]
        layers[index] = StudentLinear(mine.in_features, mine.out_features, seed=10 + index)
        return Sequential(*layers)
    assert_fit_is_the_plain_loop(make)


def test_a_prelu_with_a_learnable_slope_trains():
    assert_fit_is_the_plain_loop(lambda: Sequential(linear(2, 8, 0), PReLU(), linear(8, 2, 1)))


def test_a_layer_that_makes_its_state_lazily_trains():
    assert_fit_is_the_plain_loop(lambda: Sequential(linear(2, 8, 0), RunningCentre(), Tanh(), linear(8, 2, 1)))


def test_dropout_trains_in_training_mode_and_is_measured_in_evaluation_mode():
    make = lambda: Sequential(linear(2, 16, 0), ReLU(), Dropout(0.2, seed=5), linear(16, 2, 1))
    assert_fit_is_the_plain_loop(make)
    model = by_fit(make())
    assert model.training and all(layer.training for layer in model.layers)      # left as it was
    x, y = data()
    assert torch.equal(model.predict(x), model.predict(x))        # predict runs in evaluation mode


def test_a_python_attribute_that_a_callback_changes_each_epoch_is_read_each_epoch():
    def between(model):
        def set_cap(epoch):
            model.layers[1].cap = 0.5 + 0.25 * epoch
        return set_cap
    assert_fit_is_the_plain_loop(lambda: Sequential(linear(2, 8, 0), Clamp(0.5), linear(8, 2, 1)), between)


def test_a_built_in_method_replaced_in_a_notebook_is_what_fit_runs(monkeypatch):
    """``Tanh.backward = ...`` halving the gradient, as a predict-then-run prompt invites."""
    monkeypatch.setattr(Tanh, "backward", lambda self, g: Activation.backward(self, g) / 2)
    assert_fit_is_the_plain_loop(lambda: Sequential(linear(2, 8, 0), Tanh(), linear(8, 2, 1)))


def test_a_built_in_layer_edited_to_read_a_changing_attribute_is_read_each_epoch(monkeypatch):
    """A clamp cap read by an edited ``Tanh.activate``, changed by a callback after each epoch."""
    monkeypatch.setattr(Tanh, "activate", lambda self, s: torch.tanh(s).clamp(-self.cap, self.cap))

    def make():
        model = Sequential(linear(2, 8, 0), Tanh(), linear(8, 2, 1))
        model.layers[1].cap = 0.3
        return model

    def between(model):
        def widen(epoch):
            model.layers[1].cap = 0.3 + 0.3 * (epoch + 1)
        return widen
    assert_fit_is_the_plain_loop(make, between)


def test_a_layer_that_makes_a_parameter_during_training_stops_fit_with_a_reason():
    class LazyBias(Module):
        def forward(self, x):
            if not hasattr(self, "b"):
                self.b, self.grad_b = torch.zeros(x.shape[-1]), torch.zeros(x.shape[-1])
            return x + self.b

        def backward(self, g):
            self.grad_b += g.sum(0)
            return g

        def param(self):
            return [(self.b, self.grad_b)] if hasattr(self, "b") else []
    model = Sequential(linear(2, 8, 0), LazyBias(), ReLU(), linear(8, 2, 1))
    with pytest.raises(ValueError, match=r"a layer made or replaced a parameter while training.*__init__"):
        model.fit(*data(), epochs=2, seed=0)


def test_the_readme_example_layer_trains_with_fit_and_passes_the_gradient_checker():
    """The code block under "Write your own layer" in the README, run as it is."""
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Write your own layer", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    torch.manual_seed(0)
    exec(code.replace("print(", "(lambda *a: None)("), namespace)
    model, scale = namespace["model"], namespace["Scale"]
    assert not torch.equal(model.layers[1].a, torch.ones(1))
    assert check_module(scale(torch.float64), torch.randn(5, 3, dtype=torch.float64), generator=generator(0)).passed
