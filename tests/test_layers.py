"""Each layer's backward is the derivative of its forward: checked against central finite
differences and against torch.autograd on the same weights (float64), on shapes drawn by
hypothesis, with and without the leading run dimension."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from minidl.lab.gradcheck import numerical_gradient
from minidl import ElementwiseMSE, Linear, MSE, ReLU, Sequential, Tanh, paper_model

F64 = torch.float64
settings.register_profile("minidl", max_examples=40, deadline=None)
settings.load_profile("minidl")


def rel_error(a: torch.Tensor, b: torch.Tensor, tiny: float = 1e-12) -> float:
    """Relative error of the whole gradient tensor: ||a - b|| / max(||a||, ||b||).

    Measured on the tensor rather than entry by entry: an entry of 1e-4 carries the same
    absolute rounding noise (~1e-10 here) as an entry of 1, which is no error of backward's."""
    return ((a - b).norm() / max(a.norm().item(), b.norm().item(), tiny)).item()


def away_from_zero(shape, g):
    """Inputs with |value| >= 0.1, so ReLU's kink at 0 is never straddled by the differences."""
    x = torch.rand(shape, generator=g, dtype=F64) * 1.9 + 0.1
    return x * (torch.randint(0, 2, shape, generator=g) * 2 - 1)


def make_layer(kind, n_in, n_out, runs, g):
    if kind == "linear":
        return Linear(n_in, n_out, runs=runs, dtype=F64, generator=g)
    return ReLU() if kind == "relu" else Tanh()


shapes = st.tuples(st.sampled_from(["linear", "relu", "tanh"]), st.integers(1, 6), st.integers(1, 6),
                   st.integers(1, 5), st.sampled_from([None, 1, 3]), st.integers(0, 2**31))


@given(shapes)
def test_layer_backward_matches_finite_differences(case):
    kind, n_in, n_out, n, runs, seed = case
    g = torch.Generator().manual_seed(seed)
    layer = make_layer(kind, n_in, n_out, runs, g)
    lead = () if runs is None else (runs,)
    x = away_from_zero((*lead, n, n_in), g)
    out_shape = layer.forward(x).shape
    r = torch.randn(out_shape, generator=g, dtype=F64)          # f = sum(forward(x) * r)
    f = lambda: (layer.forward(x) * r).sum().item()
    layer.forward(x)
    layer.zero_grad()
    grad_x = layer.backward(r)
    assert rel_error(grad_x, numerical_gradient(f, x, h=1e-6)) < 1e-7
    for value, grad in layer.param():
        assert rel_error(grad, numerical_gradient(f, value, h=1e-6)) < 1e-7


def autograd_reference(layers, params, x, t):
    """The same network written with torch.autograd: the independent oracle."""
    h, i = x, 0
    for layer in layers:
        if isinstance(layer, Linear):
            w, b = params[i], params[i + 1]
            i += 2
            h = h @ w.mT + b.unsqueeze(-2)
        else:
            h = torch.relu(h) if isinstance(layer, ReLU) else torch.tanh(h)
    return ((h - t) ** 2).sum(-1).mean(-1).sum()


@given(st.lists(st.tuples(st.integers(1, 7), st.sampled_from(["relu", "tanh"])), min_size=0, max_size=3),
       st.integers(1, 6), st.sampled_from([None, 2]), st.integers(0, 2**31))
def test_sequential_gradients_match_autograd(hidden, n, runs, seed):
    g = torch.Generator().manual_seed(seed)
    sizes = [2] + [h for h, _ in hidden] + [3]
    model = Sequential()
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        model.add_layer(Linear(a, b, runs=runs, dtype=F64, generator=g))
        if k < len(hidden):
            model.add_layer(ReLU() if hidden[k][1] == "relu" else Tanh())
    lead = () if runs is None else (runs,)
    x = torch.rand(*lead, n, 2, generator=g, dtype=F64)
    t = torch.rand(*lead, n, 3, generator=g, dtype=F64)
    model.zero_grad()
    grad_x = model.backward(MSE.compute_grad(model.forward(x), t))

    params = [value.clone().requires_grad_() for value, _ in model.param()]
    xr = x.clone().requires_grad_()
    autograd_reference(model.layers, params, xr, t).backward()
    assert (grad_x - xr.grad).abs().max().item() < 1e-10
    for (_, grad), p in zip(model.param(), params):
        assert (grad - p.grad).abs().max().item() < 1e-10


def test_whole_paper_network_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    model = paper_model(dtype=F64, generator=g)
    x, t = torch.rand(4, 2, generator=g, dtype=F64), torch.rand(4, 2, generator=g, dtype=F64)
    f = lambda: MSE.compute_loss(model.forward(x), t).item()
    model.zero_grad()
    model.backward(MSE.compute_grad(model.forward(x), t))
    for value, grad in model.param():
        assert rel_error(grad, numerical_gradient(f, value, h=1e-6)) < 1e-7


@pytest.mark.parametrize("loss", [MSE, ElementwiseMSE])
@given(n=st.integers(1, 6), c=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_loss_gradient_matches_finite_differences_and_torch(loss, n, c, seed):
    g = torch.Generator().manual_seed(seed)
    pred, t = torch.randn(n, c, generator=g, dtype=F64), torch.randn(n, c, generator=g, dtype=F64)
    grad = loss.compute_grad(pred, t)
    assert rel_error(grad, numerical_gradient(lambda: loss.compute_loss(pred, t).item(), pred, h=1e-6)) < 1e-7
    p = pred.clone().requires_grad_()
    reference = ((p - t) ** 2).sum(1).mean() if loss is MSE else torch.nn.functional.mse_loss(p, t)
    reference.backward()
    assert (grad - p.grad).abs().max().item() < 1e-12
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
