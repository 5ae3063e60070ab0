"""Property tests (issue 6), with hypothesis.

1. For random layer sizes, batch sizes, run counts and inputs, ``backward`` agrees with central
   finite differences of the loss (float64), for single layers and whole ``Sequential`` models.
2. ``fit`` with any valid arguments never leaves NaN weights without saying so: it returns
   with finite weights and a finite history, or raises ``DivergenceError`` with the finite
   weights it had at the start of the diverging epoch.
"""
from __future__ import annotations

import torch
from hypothesis import assume, event, given, settings, strategies as st

from minidl import DivergenceError, ElementwiseMSE, Linear, MSE, ReLU, Sequential, Tanh, build_data, paper_model
from minidl.lab.gradcheck import numerical_gradient

FAST = settings(max_examples=30, deadline=None)


def close(analytic: torch.Tensor, numeric: torch.Tensor) -> bool:
    scale = analytic.norm() + numeric.norm()
    return bool((analytic - numeric).norm() <= 1e-6 * max(scale.item(), 1e-3))


def away_from_relu_kinks(model: Sequential, x: torch.Tensor, margin: float = 1e-4) -> bool:
    """Finite differences are meaningless across the ReLU kink: keep pre-activations off 0."""
    for layer in model.layers:
        if isinstance(layer, ReLU) and bool((s.abs() < margin).any()):
            return False
        s = x = layer.forward(x)
    return True


@st.composite
def models(draw):
    """A random MLP in float64: 1-3 Linear layers of width 1-6, ReLU or Tanh between, maybe R runs."""
    runs = draw(st.sampled_from([None, 2]))
    widths = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    init = draw(st.sampled_from(["uniform", "xavier"]))
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(Linear(a, b, init=init, runs=runs, dtype=torch.float64, generator=g))
        if i < len(widths) - 2:
            layers.append(draw(st.sampled_from([ReLU, Tanh]))())
    for layer in layers:   # biases of 'xavier' start at 0: draw them too, to test eq. (5) fully
        if isinstance(layer, Linear):
            layer.bias.uniform_(-1, 1, generator=g)
    n = draw(st.integers(1, 5))
    x = torch.randn(*(() if runs is None else (runs,)), n, widths[0], dtype=torch.float64, generator=g)
    t = torch.randn(*x.shape[:-1], widths[-1], dtype=torch.float64, generator=g)
    return Sequential(*layers), x, t, draw(st.sampled_from([MSE, ElementwiseMSE]))


@FAST
@given(models())
def test_backward_agrees_with_finite_differences(case):
    model, x, t, loss = case
    assume(away_from_relu_kinks(model, x))
    f = lambda: loss.compute_loss(model.forward(x), t).sum().item()    # sum over runs
    model.zero_grad()
    grad_x = model.backward(loss.compute_grad(model.forward(x), t))
    for value, grad in model.param():
        assert close(grad, numerical_gradient(f, value, h=1e-6)), f"parameter gradient differs in {model!r}"
    assert close(grad_x, numerical_gradient(f, x, h=1e-6)), "input gradient differs"


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31),
       st.sampled_from([Linear, ReLU, Tanh]))
def test_each_layer_backward_agrees_with_finite_differences(n_in, n_out, n, seed, kind):
    """One layer and an arbitrary linear functional L = sum(out * r) of its output, so dL/dout = r."""
    g = torch.Generator().manual_seed(seed)
    layer = Linear(n_in, n_out, dtype=torch.float64, generator=g) if kind is Linear else kind()
    x = torch.randn(n, n_in, dtype=torch.float64, generator=g)
    assume(kind is not ReLU or bool((x.abs() > 1e-4).all()))
    r = torch.randn(layer.forward(x).shape, dtype=torch.float64, generator=g)
    f = lambda: (layer.forward(x) * r).sum().item()
    layer.forward(x)
    layer.zero_grad()
    grad_x = layer.backward(r)
    assert close(grad_x, numerical_gradient(f, x, h=1e-6))
    for value, grad in layer.param():
        assert close(grad, numerical_gradient(f, value, h=1e-6))


def finite(model) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in model.state_dict().values())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), epochs=st.integers(1, 3),
       log_step=st.floats(-3, 2), batch_fraction=st.floats(0, 1), momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
       decay=st.sampled_from([0.5, 0.9, 1.0]), loss=st.sampled_from(["mse", "elementwise"]),
       init=st.sampled_from(["uniform", "xavier"]), validation=st.booleans())
def test_fit_never_leaves_nan_weights_silently(seed, n, epochs, log_step, batch_fraction, momentum, decay,
                                               loss, init, validation):
    g = torch.Generator().manual_seed(seed)
    x, y = build_data(n, generator=g)
    model = paper_model(init=init, generator=g)
    val = build_data(10, generator=g) if validation else (None, None)
    batch_size = 1 + int(batch_fraction * (n - 1))
    states = [model.state_dict()]
    try:
        history = model.fit(x, y, *val, epochs=epochs, step_size=10 ** log_step, batch_size=batch_size,
                            momentum=momentum, decay=decay, loss=loss, generator=g,
                            callback=lambda epoch, logs: states.append(model.state_dict()))
    except DivergenceError as error:
        event("diverged")
        assert finite(model), "DivergenceError left non-finite weights"
        assert len(states) == error.epoch
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), states[-1].values()))
        return
    event("trained")
    assert finite(model), "fit returned without an error but the weights are not finite"
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.history.values())
