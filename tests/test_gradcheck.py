"""The gradient checker itself: its formula, its refusals, and that it catches broken layers and
losses (that it passes every correct one is what test_layers.py and test_properties.py use it for)."""
import math

import pytest
import torch

from helpers import F64, generator as gen
from minidl import MSE, Linear, ReLU, Sequential, Tanh, paper_model
from minidl.lab.gradcheck import (away_from_zero, check_loss, check_module, numerical_gradient, relative_error,
                                  results_table)

ORACLES = ("numerical", "autograd")


class BrokenReLU(ReLU):
    """A ReLU whose derivative is twice too large."""
    def derivative(self, x):
        return 2 * x.sign()


class BrokenTanh(Tanh):
    """The classic slip: sigma'(s) = 1 - x instead of 1 - x^2."""
    def derivative(self, x):
        return 1 - x


class BrokenBiasLinear(Linear):
    """A Linear layer that stores the bias gradient of the first sample only."""
    def backward(self, g):
        out = super().backward(g)
        self.grad_bias.sub_(g[1:].sum(0))
        return out


class HalfMSE(MSE):
    """The MSE with the factor 2 of eq. (1) forgotten."""
    @staticmethod
    def compute_grad(predictions, targets):
        return MSE.compute_grad(predictions, targets) / 2


# --- the building blocks -----------------------------------------------------------------------
def test_relative_error_formula():
    a = torch.tensor([1.0, 0.0, 2.0], dtype=F64)
    b = torch.tensor([1.1, 0.0, 2.0], dtype=F64)
    error, index, x, y = relative_error(a, b, tiny=1e-3)
    assert error == pytest.approx(0.1 / 1.1) and index == (0,) and (x, y) == (1.0, 1.1)
    # below tiny an entry is compared absolutely: 1e-9 noise on a zero gradient is 1e-6, not 100 %
    assert relative_error(torch.zeros(1, dtype=F64), torch.full((1,), 1e-9, dtype=F64), 1e-3)[0] == pytest.approx(1e-6)
    assert relative_error(torch.ones(2), torch.tensor([1.0, math.nan]))[0] == math.inf
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(torch.ones(2), torch.ones(3))


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4), (4, 1, 2)])
def test_relative_error_names_the_worst_entry_as_torch_unravel_index_would(shape):
    """Its own unravelling (torch.unravel_index imports sympy on first use, 0.3 s in each of the
    grader's forked checks): the same index for every position of the worst entry."""
    for k in range(max(1, math.prod(shape))):
        a = torch.zeros(shape, dtype=F64)
        a.view(-1)[k] = 1.0
        expected = tuple(int(i) for i in torch.unravel_index(torch.tensor(k), shape))
        assert relative_error(a, torch.zeros(shape, dtype=F64))[1] == expected


def test_numerical_gradient_of_a_cube_and_restores_the_tensor():
    t = torch.randn(3, 4, generator=gen(0), dtype=F64)
    before = t.clone()
    grad = numerical_gradient(lambda: t.pow(3).sum(), t)
    assert torch.equal(t, before)
    # central differences: error h^2 f''' / 6 = h^2 exactly for t^3
    assert torch.allclose(grad, 3 * t ** 2, rtol=0, atol=1e-8)


# --- the whole paper network passes (single layers, random networks: test_layers, test_properties)
def test_paper_model_passes_and_parameters_are_untouched():
    g = gen(1)
    model = paper_model(dtype=F64, generator=g)
    x = torch.rand(4, 2, generator=g, dtype=F64)
    before = model.state_dict()
    result = check_module(model, x, generator=g)
    assert result.passed, result
    assert list(result.errors) == ["input"] + [f"{k}.{p}" for k in (0, 2, 4, 6) for p in ("weight", "bias")]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not grad.any() for _, grad in model.param())


# --- broken layers fail, and the message says where ----------------------------------------------
@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("layer, quantity", [(BrokenReLU(), "input"), (BrokenTanh(), "input"),
                                             (BrokenBiasLinear(3, 2, dtype=F64), "bias")])
def test_broken_layers_fail(layer, quantity, oracle):
    x = away_from_zero(torch.randn(4, 3, generator=gen(2), dtype=F64))
    result = check_module(layer, x, oracle=oracle, generator=gen(3))
    assert not result.passed
    assert result.errors[quantity] > 0.1
    message = str(result)
    assert message.startswith("FAIL") and repr(layer) in message
    assert f"w.r.t. {quantity}" in message and oracle in message


def test_a_broken_activation_inside_a_network_is_caught_in_the_layers_below_it():
    g = gen(4)
    model = Sequential(Linear(2, 5, dtype=F64, generator=g), BrokenReLU(), Linear(5, 2, dtype=F64, generator=g))
    x = torch.rand(6, 2, generator=g, dtype=F64)
    result = check_module(model, x, generator=g)
    assert not result.passed
    assert result.errors["2.weight"] < 1e-6           # above the broken layer: still right
    assert result.errors["0.weight"] > 0.1 and "0.weight" in str(result)


@pytest.mark.parametrize("oracle", ORACLES)
def test_a_loss_missing_the_factor_two_fails(oracle):
    p = torch.randn(5, 2, generator=gen(5), dtype=F64)
    result = check_loss(HalfMSE, p, torch.rand(5, 2, generator=gen(6), dtype=F64), oracle=oracle)
    assert not result.passed and result.errors["predictions"] == pytest.approx(0.5)
    assert "HalfMSE" in str(result)


def test_relu_kink_is_a_false_alarm_unless_inputs_avoid_zero():
    x = torch.tensor([[0.0, 1.0, -1.0]], dtype=F64)         # exactly on the kink
    result = check_module(ReLU(), x, generator=gen(7))
    assert not result.passed and result.worst["input"][0] == (0, 0)   # the slope there is 1/2
    assert check_module(ReLU(), away_from_zero(x), generator=gen(7)).passed


# --- bad input ----------------------------------------------------------------------------------
def test_float32_and_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="check_module x: gradient checks need float64"):
        check_module(Tanh(), torch.randn(2, 2))
    with pytest.raises(TypeError, match="parameter weight"):
        check_module(Linear(2, 2), torch.randn(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="oracle"):
        check_module(Tanh(), torch.randn(2, 2, dtype=F64), oracle="guess")
    with pytest.raises(ValueError, match="threshold"):
        check_loss(MSE, torch.randn(2, 2, dtype=F64), torch.randn(2, 2, dtype=F64), threshold=-1)
    with pytest.raises(TypeError, match="h: expected a positive number"):
        check_module(Tanh(), torch.randn(2, 2, dtype=F64), h="small")
    with pytest.raises(TypeError, match="minidl Module"):
        check_module(torch.nn.Tanh(), torch.randn(2, 2, dtype=F64))


def test_results_table_lists_every_quantity_and_verdict():
    x = away_from_zero(torch.randn(3, 2, generator=gen(8), dtype=F64))
    table = results_table([check_module(Linear(2, 2, dtype=F64, generator=gen(9)), x, generator=gen(9)),
                           check_module(BrokenReLU(), x, generator=gen(9))])
    lines = table.splitlines()
    assert len(lines) == 2 + 3 + 1
    assert "pass" in lines[2] and "FAIL" in lines[-1] and "BrokenReLU()" in lines[-1]
