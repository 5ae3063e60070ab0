"""The layers: each ``backward`` is the derivative of its ``forward`` (checked by the kit's
gradient checker, ``minidl.lab.gradcheck``, against central finite differences and against
torch.autograd, on shapes drawn by hypothesis, with and without the leading run dimension),
and the layers' layout, initialisation, accumulation and gradient step."""
import math

import pytest
import torch
from hypothesis import given, strategies as st

from helpers import F64, generator
from minidl import ElementwiseMSE, Linear, MSE, ReLU, Tanh, paper_model
from minidl.lab.gradcheck import away_from_zero, check_loss, check_module


@given(kind=st.sampled_from([Linear, ReLU, Tanh]), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       n=st.integers(1, 5), runs=st.sampled_from([None, 1, 3]), seed=st.integers(0, 2**31))
def test_each_layer_backward_passes_the_gradient_checker(kind, n_in, n_out, n, runs, seed):
    """Eqs. (2)-(5): the input gradient and every parameter gradient, entry by entry. The autograd
    oracle builds torch.nn layers, which have no run dimension: with runs, finite differences only."""
    g = generator(seed)
    layer = Linear(n_in, n_out, runs=runs, dtype=F64, generator=g) if kind is Linear else kind()
    lead = () if runs is None else (runs,)
    x = away_from_zero(torch.randn(*lead, n, n_in, generator=g, dtype=F64))   # off ReLU's kink
    for oracle in ("numerical",) if runs else ("numerical", "autograd"):
        result = check_module(layer, x, oracle=oracle, generator=g)
        assert result.passed, result
        assert set(result.errors) == ({"input", "weight", "bias"} if kind is Linear else {"input"})


@pytest.mark.parametrize("loss", [MSE, ElementwiseMSE])
@given(n=st.integers(1, 6), c=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_loss_gradient_passes_the_gradient_checker_and_its_value_is_torch_s(loss, n, c, seed):
    """Eq. (1) over a batch, against finite differences and autograd; the value against an
    independent formula (the paper's sum over outputs, or torch.nn.functional.mse_loss)."""
    g = generator(seed)
    pred, t = torch.randn(n, c, generator=g, dtype=F64), torch.randn(n, c, generator=g, dtype=F64)
    for oracle in ("numerical", "autograd"):
        result = check_loss(loss, pred, t, oracle=oracle)
        assert result.passed, result
    reference = ((pred - t) ** 2).sum(1).mean() if loss is MSE else torch.nn.functional.mse_loss(pred, t)
    assert math.isclose(loss.compute_loss(pred, t).item(), reference.item(), rel_tol=1e-12)


def test_elementwise_mse_is_paper_mse_over_outputs():
    pred, t = torch.randn(10, 2, dtype=F64), torch.randn(10, 2, dtype=F64)
    assert torch.allclose(ElementwiseMSE.compute_loss(pred, t) * 2, MSE.compute_loss(pred, t))
    assert torch.allclose(ElementwiseMSE.compute_grad(pred, t) * 2, MSE.compute_grad(pred, t))


def test_backward_accumulates_until_zero_grad():
    lin = Linear(3, 2, dtype=F64)
    x, g = torch.randn(4, 3, dtype=F64), torch.randn(4, 2, dtype=F64)
    lin.forward(x)
    lin.backward(g)
    once = lin.grad_weight.clone()
    lin.backward(g)
    assert torch.allclose(lin.grad_weight, 2 * once)
    lin.zero_grad()
    assert not lin.grad_weight.any() and not lin.grad_bias.any()


def test_linear_layout_init_and_repr():
    g = torch.Generator().manual_seed(0)
    lin = Linear(2, 25, generator=g)
    assert lin.weight.shape == (25, 2) and lin.bias.shape == (25,)
    assert lin.weight.abs().max() <= 1 and lin.bias.abs().max() <= 1 and lin.weight.min() < -0.5
    assert [v.shape for v, _ in lin.param()] == [(25, 2), (25,)]
    assert repr(lin) == "Linear(in_features=2, out_features=25)"
    xavier = Linear(25, 25, init="xavier", generator=g)
    assert xavier.weight.abs().max() <= math.sqrt(6 / 50) and not xavier.bias.any()
    assert ReLU().param() == [] and Tanh().param() == []


def test_gradient_step_is_equations_6_and_7():
    lin = Linear(2, 3, dtype=F64)
    before = [v.clone() for v, _ in lin.param()]
    lin.forward(torch.randn(5, 2, dtype=F64))
    lin.backward(torch.randn(5, 3, dtype=F64))
    lin.gradient_step(0.5)
    for (value, grad), old in zip(lin.param(), before):
        assert torch.equal(value, old - 0.5 * grad)


def test_works_without_autograd():
    with torch.set_grad_enabled(False):
        x = torch.rand(50, 2)
        model = paper_model(generator=torch.Generator().manual_seed(0))
        model.fit(x, (x.sum(1) > 1).long(), epochs=2, seed=0)
        assert all(not v.requires_grad for v, _ in model.param())


def test_summary_lists_layers_shapes_and_totals():
    text = paper_model().summary()
    assert "Linear(in_features=25, out_features=2)" in text and "(N, 2)" in text
    assert "Total params: 1,427" in text    # 3*25 + 26*25 + 26*25 + 26*2
