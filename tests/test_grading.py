"""minidl.lab.grading: the course's checks pass correct code and fail wrong code with a message
that names the equation, the shape, the largest error and where."""
import pytest
import torch

from minidl import MSE, Linear, Module, ReLU, Tanh
from minidl.lab.grading import (RecordingModel, TorchSGD, check_linear_backward, check_linear_forward,
                                check_mean_of_sample_gradients, check_momentum_step, check_torch_equivalence,
                                choose_layers, expect_algorithm_1, expect_close, expect_gradients, expect_shape,
                                grades_table, reference_forward)
from minidl.lab.gradcheck import check_module

from helpers import F64


class StudentLinear(Module):
    """A student's Linear as the course's exercise asks: forward keeps its input."""

    def __init__(self, in_features, out_features, *, generator=None, dtype=torch.float32, sign=1.0):
        self.weight = torch.empty(out_features, in_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.bias = torch.empty(out_features, dtype=dtype).uniform_(-1, 1, generator=generator)
        self.grad_weight, self.grad_bias = torch.zeros_like(self.weight), torch.zeros_like(self.bias)
        self.sign = sign

    def forward(self, input):
        self.input = input
        return torch.addmm(self.bias, input, self.weight.T)    # x w^T + b (written unlike the lab's solution)

    def backward(self, g):
        self.grad_weight += self.sign * g.T @ self.input
        self.grad_bias += g.sum(0)
        return g @ self.weight

    def param(self):
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]


class SignFlippedLinear(StudentLinear):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, sign=-1.0, **kwargs)


class NotImplementedLinear(StudentLinear):
    def backward(self, g):
        raise NotImplementedError()


def test_expect_shape_and_close_pass_and_fail_with_the_worst_entry():
    a = torch.arange(6, dtype=F64).reshape(2, 3)
    expect_shape(a, (2, 3), "x")
    expect_close(a.clone(), a, "x")
    with pytest.raises(AssertionError, match=r"eq\. \(4\): expected shape \(3, 2\), got \(2, 3\)"):
        expect_shape(a, (3, 2), "eq. (4)")
    with pytest.raises(AssertionError, match="expected a torch.Tensor of shape \\(2, 3\\), got NoneType"):
        expect_close(None, a, "eq. (2)")
    b = a.clone()
    b[1, 2] = -5.0
    with pytest.raises(AssertionError, match=r"eq\. \(5\): largest relative error 2 .* at entry \(1, 2\): "
                                             r"yours is -5, expected 5"):
        expect_close(b, a, "eq. (5)")


def test_expect_gradients_names_the_equation_of_the_wrong_gradient_only():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=g, dtype=F64)
    expect_gradients(check_module(StudentLinear(3, 4, generator=g, dtype=F64), x, generator=g),
                     ["eq. (2)", "eq. (4)", "eq. (5)"])
    result = check_module(SignFlippedLinear(3, 4, generator=g, dtype=F64), x, generator=g)
    with pytest.raises(AssertionError) as info:
        expect_gradients(result, ["eq. (2)", "eq. (4)", "eq. (5)"])
    message = str(info.value)
    assert "- eq. (4): relative error 2 against finite differences" in message
    assert "eq. (2)" not in message and "eq. (5)" not in message
    assert "worst at entry (" in message


def test_reference_forward_lets_backward_be_checked_without_the_students_forward():
    class NoForward(StudentLinear):
        def forward(self, input):
            raise NotImplementedError()
    g = torch.Generator().manual_seed(1)
    layer = reference_forward(NoForward(3, 2, generator=g, dtype=F64))
    x = torch.randn(4, 3, generator=g, dtype=F64)
    assert check_module(layer, x, generator=g).passed
    assert layer.input is not None and torch.equal(layer.input, x)
    assert torch.equal(layer.forward(x), x @ layer.weight.T + layer.bias)


def test_choose_layers_takes_the_students_that_pass_and_minidls_otherwise(capsys):
    mine = choose_layers({"Linear": StudentLinear})
    assert mine == (StudentLinear, ReLU, Tanh, MSE)
    assert "Linear yours (it passes the gradient check)" in capsys.readouterr().out
    for broken in (SignFlippedLinear, NotImplementedLinear):
        assert choose_layers({"Linear": broken, "ReLU": ReLU}).Linear is Linear
        out = capsys.readouterr().out
        assert "Linear minidl's (yours fails: " in out and "ReLU   minidl's (none of yours" in out


def reference_train(model, x, t, *, epochs, step_size, decay=0.9, generator=None):
    for epoch in range(epochs):
        eta = step_size * decay ** epoch
        order = torch.randperm(len(x), generator=generator)
        for i in order:
            model.zero_grad()
            y_hat = model.forward(x[i:i + 1])
            model.backward(MSE.compute_grad(y_hat, t[i:i + 1]))
            for value, grad in model.param():
                value -= eta * grad
        model.forward(x)            # a whole-set forward for the history: not a step


def test_expect_algorithm_1_passes_the_algorithm():
    expect_algorithm_1(reference_train)
    expect_algorithm_1(reference_train, n=7, epochs=4, step_size=0.03, seed=5)


@pytest.mark.parametrize("mistake, message", [
    ("no_shuffle", "line 3: shuffle the samples at every epoch"),
    ("no_decay", r"lowers w by the step size 0.1 x 0.9\^1 = 0.09; yours lowered it by 0.1\b"),
    ("no_zero_grad", "call zero_grad\\(\\) before backward"),
    ("not_in_place", "update the parameters in place"),
    ("whole_batch", r"one sample, an input of shape \(1, 2\) .*; yours took inputs of shapes \[\(12, 2\)\]"),
    ("two_samples", r"each step takes one sample, an input of shape \(1, 2\)"),
    ("one_epoch", r"3 epochs of 12 samples make 36 steps .*, your train made 12"),
])
def test_expect_algorithm_1_names_each_mistake(mistake, message):
    def train(model, x, t, *, epochs, step_size, decay=0.9, generator=None):
        n = x.shape[0]
        for epoch in range(1 if mistake == "one_epoch" else epochs):
            eta = step_size * (1 if mistake == "no_decay" else decay ** epoch)
            order = torch.arange(n) if mistake == "no_shuffle" else torch.randperm(n, generator=generator)
            batches = ([order] if mistake == "whole_batch" else order.split(2) if mistake == "two_samples"
                       else order.split(1))
            for idx in batches:
                if mistake != "no_zero_grad":
                    model.zero_grad()
                model.backward(MSE.compute_grad(model.forward(x[idx]), t[idx]))
                for value, grad in model.param():
                    if mistake == "not_in_place":
                        value = value - eta * grad
                    else:
                        value -= eta * grad
    with pytest.raises(AssertionError, match=message):
        expect_algorithm_1(train)


def test_recording_model_counts_only_forwards_followed_by_backward():
    model = RecordingModel()
    x = torch.zeros(3, 2, dtype=F64)
    model.forward(x)
    model.zero_grad()
    model.backward(model.forward(x[:1]))
    assert [tuple(inputs.shape) for inputs, _ in model.training_steps()] == [(1, 2)]
    assert float(model.grad_w) == 1.0


def test_grades_table_shows_students_by_assignment_and_what_was_not_handed_in(tmp_path):
    csv = tmp_path / "grades.csv"
    csv.write_text("assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
                   "late_submission_penalty,score,max_score\n"
                   "01_layers,,,ada,,,,12.0,0.0,12.0,12.0\n"
                   "01_layers,,,bob,,,,8.0,0.0,8.0,12.0\n"
                   "02_training,,,ada,,,,0.0,0.0,0.0,8.0\n"
                   "02_training,,,bob,,,,8.0,0.0,8.0,8.0\n")
    (tmp_path / "submitted" / "ada" / "01_layers").mkdir(parents=True)
    (tmp_path / "submitted" / "bob" / "01_layers").mkdir(parents=True)
    (tmp_path / "submitted" / "bob" / "02_training").mkdir(parents=True)
    assert grades_table(str(csv), str(tmp_path / "submitted")).splitlines() == [
        "student  01_layers  02_training  total",
        "-" * 38,
        "ada      12/12      -            12/20",
        "bob      8/12       8/8          16/20"]
    assert grades_table(str(csv)).splitlines()[2] == "ada      12/12      0/8          12/20"


def train_with_decay_written_as_0_9(model, x, t, *, epochs, step_size, decay=0.9, generator=None):
    for epoch in range(epochs):
        eta = step_size * 0.9 ** epoch
        for i in torch.randperm(len(x), generator=generator):
            model.zero_grad()
            y_hat = model.forward(x[i:i + 1])
            model.backward(MSE.compute_grad(y_hat, t[i:i + 1]))
            for value, grad in model.param():
                value -= eta * grad


def test_a_decay_written_as_0_9_is_told_apart_from_a_missing_zero_grad():
    expect_algorithm_1(train_with_decay_written_as_0_9)             # the visible test: decay 0.9 passes
    with pytest.raises(AssertionError) as info:
        expect_algorithm_1(train_with_decay_written_as_0_9, n=20, epochs=2, step_size=1.0, decay=0.5, seed=6)
    message = str(info.value)
    assert "yours lowered it by 0.9" in message and "zero_grad" not in message
    assert "1 x 0.9^1, though this call's decay is 0.5" in message and info.value.hint.key == "decay_ignored"


def test_a_shape_error_in_forward_names_the_shapes_and_the_equation():
    class Untransposed(StudentLinear):
        def forward(self, input):
            self.input = input
            return input @ self.weight + self.bias
    with pytest.raises(AssertionError) as info:
        check_linear_forward(Untransposed, n=5, in_features=3, out_features=4, seed=1)
    assert str(info.value).endswith("Likely mistake: forward got x (5, 3), weight (4, 3); "
                                    "s = x w^T + b should be (5, 4).")
    assert "your forward raised RuntimeError: mat1 and mat2 shapes cannot be multiplied" in str(info.value)


def test_the_releases_stub_is_not_taken_for_a_shape_error():
    """NotImplementedError is a RuntimeError: the stub nbgrader leaves must reach the student as
    it is, not as a shape message."""
    with pytest.raises(NotImplementedError):
        check_linear_backward(NotImplementedLinear, n=5, in_features=3, out_features=4, seed=2)

    class NoForward(StudentLinear):
        def forward(self, input):
            raise NotImplementedError()
    with pytest.raises(NotImplementedError):
        check_linear_forward(NoForward, n=5, in_features=3, out_features=4, seed=1)


def test_assignment_3s_messages_say_which_parameter():
    class Plain:                        # a plain gradient step: not the paper's momentum
        def __init__(self, params, momentum):
            self.params = list(params)

        def step(self, step_size):
            for value, grad in self.params:
                value -= step_size * grad
    with pytest.raises(AssertionError, match=r"step 1 of 3: layer 0 weight, V = beta V"):
        check_momentum_step(Plain, momentum=0.5, step_size=0.1, steps=3, seed=0)
    with pytest.raises(AssertionError, match=r"at step 1 of 5: layer 0 weight:"):
        check_torch_equivalence(lambda step_size, momentum: {"lr": step_size, "momentum": momentum},
                                step_size=0.1, momentum=0.5, steps=5, seed=0)
    with pytest.raises(AssertionError, match=r"dL/dw of one forward and backward: layer 0 weight, shape \(4, 3\)"):
        check_mean_of_sample_gradients(lambda model, x, t: [2 * grad for _, grad in model.param()], n=4, seed=0)


@pytest.mark.parametrize("arguments", [
    {"lr": 0.05, "momentum": 0.5}, {"lr": 0.1}, {"lr": 0.01, "momentum": 0.9, "dampening": 0.1},
    {"lr": 0.02, "momentum": 0.8, "nesterov": True}, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.3, "maximize": True}, {"lr": 0.1, "momentum": 0.5, "foreach": True}, {},
])
def test_torch_sgd_takes_torch_optim_sgds_steps(arguments):
    """check_torch_equivalence's stand-in for torch.optim.SGD (the class imports torch._dynamo, 1 s):
    bit for bit the same values after each of 6 steps."""
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(4, 3, generator=g, dtype=F64), torch.randn(4, generator=g, dtype=F64)]
    grads = [[torch.randn(t.shape, generator=g, dtype=F64) for t in start] for _ in range(6)]
    ours, theirs = ([t.clone().requires_grad_(True) for t in start] for _ in range(2))
    a, b = TorchSGD(ours, **arguments), torch.optim.SGD(theirs, **arguments)
    for step in grads:
        for x, y, grad in zip(ours, theirs, step):
            x.grad, y.grad = grad.clone(), grad.clone()
        a.step()
        b.step()
        assert all(torch.equal(x, y) for x, y in zip(ours, theirs))


@pytest.mark.parametrize("arguments, error", [
    ({"lr": -0.1}, ValueError), ({"lr": 0.1, "momentum": -0.5}, ValueError),
    ({"lr": 0.1, "weight_decay": -1.0}, ValueError), ({"lr": 0.1, "nesterov": True}, ValueError),
    ({"lr": 0.1, "betas": (0.9, 0.99)}, TypeError), ({"learning_rate": 0.1}, TypeError),
])
def test_torch_sgd_refuses_what_torch_optim_sgd_refuses(arguments, error):
    with pytest.raises(error):
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], **arguments)
    with pytest.raises(error):
        TorchSGD([torch.zeros(2, requires_grad=True)], **arguments)
