"""Property tests (issue 6), with hypothesis.

1. For random networks (sizes, activations, batch sizes, run counts, inputs), ``backward``
   passes the kit's gradient checker (float64): finite differences, and autograd where torch.nn
   can express the network (no run dimension). Single layers and the losses: test_layers.py.
2. ``fit`` with any valid arguments never leaves NaN weights without saying so: it returns
   with finite weights and a finite history, or raises ``DivergenceError`` with the finite
   weights it had at the start of the diverging epoch.
"""
from __future__ import annotations

import torch
from hypothesis import assume, event, given, settings, strategies as st

from helpers import all_finite, same_weights
from minidl import DivergenceError, Linear, ReLU, Sequential, Tanh, build_data, paper_model
from minidl.lab.gradcheck import DEFAULT_H, check_module, nearest_kink


@st.composite
def models(draw):
    """A random MLP in float64 (1-3 Linear layers of width 1-6, ReLU or Tanh between, maybe R
    runs), an input batch and the generator that drew them."""
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
    return Sequential(*layers), x, g


@given(models())
def test_backward_of_any_network_passes_the_gradient_checker(case):
    """A random network's input and parameter gradients, against finite differences (and
    autograd, which has no run dimension, when there is none)."""
    model, x, g = case
    assume(nearest_kink(model, x) > 100 * DEFAULT_H)     # a difference across a ReLU kink is no test
    for oracle in ("numerical",) if model.runs else ("numerical", "autograd"):
        result = check_module(model, x, oracle=oracle, generator=g)
        assert result.passed, result


@settings(max_examples=40)
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
        assert all_finite(model), "DivergenceError left non-finite weights"
        assert len(states) == error.epoch
        assert same_weights(model.state_dict(), states[-1])
        return
    event("trained")
    assert all_finite(model), "fit returned without an error but the weights are not finite"
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.history.values())
