"""minidl.lab.diagnostics: per-layer activation and gradient scales and dead ReLU units."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from helpers import F64, generator
from minidl import Linear, ReLU, Sequential, Tanh, build_data, paper_model
from minidl.lab.diagnostics import layer_statistics, plot_layer_statistics, statistics_while_training
from minidl.losses import ElementwiseMSE
from minidl.utils import one_hot


def small_model():
    model = Sequential(Linear(2, 3, dtype=F64), ReLU(), Linear(3, 2, dtype=F64))
    model.load_state_dict({"0.weight": torch.tensor([[-1.0, -1.0], [1.0, 0.0], [0.0, 2.0]], dtype=F64),
                           "0.bias": torch.tensor([-0.5, 0.0, 0.1], dtype=F64),
                           "2.weight": torch.tensor([[1.0, -1.0, 0.5], [0.5, 0.5, 0.5]], dtype=F64),
                           "2.bias": torch.zeros(2, dtype=F64)})
    return model


def test_the_statistics_are_the_rms_of_what_each_layer_computes():
    model = small_model()
    x, y = build_data(50, generator=generator(0), dtype=F64)          # x in [0, 1]^2: unit 0 is always off
    first, last = layer_statistics(model, x, y)
    s1 = x @ model.layers[0].weight.T + model.layers[0].bias
    x1 = s1.clamp(min=0)
    out = x1 @ model.layers[2].weight.T
    ds2 = 2 * (out - one_hot(y, 2, F64)) / 2                              # each sample's own per-element MSE gradient
    ds1 = (ds2 @ model.layers[2].weight) * (s1 > 0)
    assert first.layer == "0" and last.layer == "2"
    assert first.activation_rms == pytest.approx(x1.pow(2).mean().sqrt().item(), rel=1e-12)
    assert last.activation_rms == pytest.approx(out.pow(2).mean().sqrt().item(), rel=1e-12)
    assert first.gradient_rms == pytest.approx(ds1.pow(2).mean().sqrt().item(), rel=1e-12)
    assert last.gradient_rms == pytest.approx(ds2.pow(2).mean().sqrt().item(), rel=1e-12)
    assert last.weight_gradient_rms == pytest.approx((ds2.T @ x1 / 50).pow(2).mean().sqrt().item(), rel=1e-12)
    assert first.dead_fraction == pytest.approx(1 / 3) and last.dead_fraction is None


def test_the_statistics_leave_the_models_gradients_and_mode_alone():
    model = small_model()
    x, y = build_data(20, generator=generator(1), dtype=F64)
    model.zero_grad()
    model.backward(ElementwiseMSE.compute_grad(model.forward(x[:3]), one_hot(y[:3], 2, F64)))
    before = [grad.clone() for _, grad in model.param()]
    layer_statistics(model, x, y)
    assert all(torch.equal(a, g) for a, (_, g) in zip(before, model.param()))
    assert model.training


def test_recording_while_training_changes_nothing_of_the_training():
    x, y = build_data(100, generator=generator(2))
    watched, alone = paper_model(generator=generator(0)), paper_model(generator=generator(0))
    per_epoch, history = statistics_while_training(watched, x, y, epochs=3, seed=0, engine="fast")
    alone.fit(x, y, epochs=3, seed=0, engine="fast")
    assert len(per_epoch) == 4 and len(per_epoch[0]) == 4
    assert all(torch.equal(a, b) for a, b in zip(watched.state_dict().values(), alone.state_dict().values()))
    assert [s.dead_fraction is None for s in per_epoch[-1]] == [False, False, True, True]   # ReLU, ReLU, Tanh, output


def test_bad_input_is_refused_by_name():
    with pytest.raises(TypeError, match="single-run Sequential"):
        layer_statistics(Tanh(), torch.ones(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 2\)"):
        layer_statistics(small_model(), torch.ones(3, 5, dtype=F64), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="callback is taken"):
        statistics_while_training(small_model(), *build_data(10, dtype=F64), callback=print)


def test_the_plot_draws_one_line_per_layer_and_dead_units_only_for_relu_layers():
    x, y = build_data(60, generator=generator(3))
    per_epoch, _ = statistics_while_training(paper_model(generator=generator(0)), x, y, epochs=2, seed=0)
    fig, axes = plt.subplots(1, 3)
    plot_layer_statistics(axes, per_epoch, "U[-1, 1]")
    assert [len(ax.lines) for ax in axes] == [4, 4, 2]
    assert list(axes[1].lines[0].get_ydata()) == [e[0].gradient_rms for e in per_epoch]
    with pytest.raises(ValueError, match="expected 3 axes"):
        plot_layer_statistics(axes[:2], per_epoch, "x")
    plt.close(fig)
