"""Training: the paper's momentum is torch's SGD with lr = eta (1 - beta); batch GD uses the
mean gradient of the batch; the paper's network learns the disk; fits are reproducible."""
import pytest
import torch

import minidl.training
from minidl import MSE, SGD, Linear, ReLU, Sequential, Tanh, build_data, paper_model
from minidl.lab.compare import fit_torch, torch_twin
from minidl.optim import gradient_step, torch_sgd_lr
from minidl.runs import fit_runs, stack_models
from minidl.utils import one_hot, torch_threads

from helpers import F64


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_momentum_equals_torch_sgd_with_scaled_lr(beta):
    g = torch.Generator().manual_seed(0)
    eta = 0.1
    mine = [torch.randn(4, 3, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64)]
    theirs = [p.clone().requires_grad_() for p in mine]
    grads = [torch.zeros_like(p) for p in mine]
    sgd = SGD(list(zip(mine, grads)), momentum=beta)
    assert torch_sgd_lr(eta, beta) == eta * (1 - beta)
    reference = torch.optim.SGD(theirs, lr=torch_sgd_lr(eta, beta), momentum=beta)
    for step in range(20):
        for grad, p in zip(grads, theirs):
            grad.copy_(torch.randn(grad.shape, generator=g, dtype=F64))
            p.grad = grad.clone()
        sgd.step(eta)
        reference.step()
    for a, b in zip(mine, theirs):
        assert torch.allclose(a, b.detach(), rtol=0, atol=1e-12)


def test_sgd_without_momentum_is_the_plain_step_of_every_module():
    """One implementation of eqs. (6) and (7): SGD(momentum=0), Module.gradient_step and
    optim.gradient_step give the same bits."""
    g = torch.Generator().manual_seed(3)
    x, t = torch.rand(6, 2, generator=g), torch.rand(6, 2, generator=g)
    models = [paper_model(generator=torch.Generator().manual_seed(0)) for _ in range(3)]
    for model in models:
        model.backward(MSE.compute_grad(model.forward(x), t))
    SGD(models[0].param()).step(0.3)
    models[1].gradient_step(0.3)
    gradient_step(models[2].param(), 0.3)
    for pairs in zip(*(m.param() for m in models)):
        (a, grad), (b, _), (c, _) = pairs
        assert torch.equal(a, b) and torch.equal(a, c) and grad.abs().sum() > 0


def test_momentum_velocity_is_an_exponential_moving_average():
    value, grad = torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64)
    sgd = SGD([(value, grad)], momentum=0.5)
    sgd.step(1.0)                        # V1 = 0.5 * 0 + 0.5 * 1
    assert sgd.velocities[0].item() == 0.5 and value.item() == -0.5
    sgd.step(1.0)                        # V2 = 0.5 * 0.5 + 0.5 * 1
    assert sgd.velocities[0].item() == 0.75 and value.item() == -1.25


def test_batch_gradient_is_the_mean_of_per_sample_gradients():
    g = torch.Generator().manual_seed(1)
    model = paper_model(dtype=F64, generator=g)
    x, t = torch.rand(8, 2, generator=g, dtype=F64), torch.rand(8, 2, generator=g, dtype=F64)
    model.zero_grad()
    model.backward(MSE.compute_grad(model.forward(x), t))
    batch = [grad.clone() for _, grad in model.param()]
    per_sample = [torch.zeros_like(b) for b in batch]
    for i in range(8):
        model.zero_grad()
        output = model.forward(x[i:i + 1])
        model.backward(MSE.compute_grad(output, t[i:i + 1]))
        for acc, (_, grad) in zip(per_sample, model.param()):
            acc += grad / 8
    for a, b in zip(batch, per_sample):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(batch_size=10, momentum=0.5), dict(loss="elementwise", decay=1.0)])
def test_fit_follows_the_torch_autograd_trajectory(kw):
    g = torch.Generator().manual_seed(2)
    x, y = build_data(200, generator=g, dtype=F64)
    model = paper_model(dtype=F64, generator=g)
    net = torch_twin(model)
    h1 = model.fit(x, y, x, y, epochs=3, seed=7, **kw)
    h2 = fit_torch(net, x, y, x, y, epochs=3, seed=7, **kw)
    for a, b in zip(model.param(), net.parameters()):
        assert torch.allclose(a[0], b.detach(), rtol=0, atol=1e-10)
    assert h1.history["loss"] == pytest.approx(h2.history["loss"], abs=1e-10)


def test_paper_network_learns_the_disk():
    g = torch.Generator().manual_seed(0)
    x, y = build_data(1000, generator=g)
    x_test, y_test = build_data(1000, generator=g)
    model = paper_model(generator=g)
    history = model.fit(x, y, epochs=70, step_size=0.01, generator=g)
    accuracy = model.evaluate(x_test, y_test)["accuracy"]
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f} after 70 epochs"
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_history_has_keras_keys_one_entry_per_epoch():
    x, y = build_data(50, generator=torch.Generator().manual_seed(0))
    h = paper_model().fit(x, y, x, y, epochs=4, seed=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 and all(isinstance(e, float) for e in v) for v in h.history.values())
    h = paper_model().fit(x, y, epochs=2, seed=0)
    assert set(h.history) == {"loss", "accuracy"}


def test_same_seed_same_history_other_seed_other_history():
    x, y = build_data(100, generator=torch.Generator().manual_seed(0))
    runs = []
    for seed in (5, 5, 6):
        model = paper_model(generator=torch.Generator().manual_seed(1))
        runs.append(model.fit(x, y, epochs=3, seed=seed).history["loss"])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_one_hot_targets_train_like_int_labels():
    x, y = build_data(60, generator=torch.Generator().manual_seed(0))
    a = paper_model(generator=torch.Generator().manual_seed(1))
    b = paper_model(generator=torch.Generator().manual_seed(1))
    ha = a.fit(x, y, epochs=2, seed=3)
    hb = b.fit(x, one_hot(y, 2), epochs=2, seed=3)
    assert ha.history == hb.history


def test_step_size_decays_by_the_factor_each_epoch():
    """With one sample and a frozen gradient direction the update sizes shrink by `decay`."""
    model = Sequential(Linear(1, 1, dtype=F64))
    model.layers[0].weight.fill_(0.0)
    model.layers[0].bias.fill_(0.0)
    x, t = torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64)
    biases = []
    for epoch in range(3):
        model.fit(x, t, epochs=1, step_size=0.1 * 0.5 ** epoch, decay=1.0, seed=0)
        biases.append(model.layers[0].bias.item())
    model2 = Sequential(Linear(1, 1, dtype=F64))
    model2.layers[0].weight.fill_(0.0)
    model2.layers[0].bias.fill_(0.0)
    model2.fit(x, t, epochs=3, step_size=0.1, decay=0.5, seed=0)
    assert model2.layers[0].bias.item() == pytest.approx(biases[-1], abs=1e-15)


def test_predict_returns_int64_labels_and_evaluate_floats():
    x, y = build_data(30, generator=torch.Generator().manual_seed(0))
    model = paper_model()
    assert model.predict(x).dtype == torch.int64 and model.predict(x).shape == (30,)
    result = model.evaluate(x, y)
    assert set(result) == {"loss", "accuracy"} and all(isinstance(v, float) for v in result.values())


def test_sequential_built_with_add_layer_equals_constructor():
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    a = Sequential(Linear(2, 5, generator=g1), ReLU(), Linear(5, 2, generator=g1), Tanh())
    b = Sequential()
    for layer in (Linear(2, 5, generator=g2), ReLU(), Linear(5, 2, generator=g2), Tanh()):
        b.add_layer(layer)
    x = torch.rand(7, 2)
    assert torch.equal(a.forward(x), b.forward(x))


def test_any_integer_label_dtype_trains_like_int64():
    x, y = build_data(40, generator=torch.Generator().manual_seed(0))
    a = paper_model(generator=torch.Generator().manual_seed(1))
    b = paper_model(generator=torch.Generator().manual_seed(1))
    assert a.fit(x, y, epochs=1, seed=2).history == b.fit(x, y.to(torch.uint8), epochs=1, seed=2).history


def test_torch_threads_sets_and_restores_the_thread_count_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(KeyError):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise KeyError("inside")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="torch_threads n"):
        with torch_threads(0):
            pass


@pytest.mark.parametrize("kw", [dict(), dict(batch_size=10, momentum=0.5, decay=1.0, loss="elementwise")])
def test_fit_fit_runs_and_fit_torch_record_the_same_params(kw):
    """History.params is built in one place: the three ways to train record the same dict."""
    g = torch.Generator().manual_seed(4)
    x, y = build_data(20, generator=g)
    expected = {"epochs": 1, "step_size": 0.01, "batch_size": kw.get("batch_size", 1),
                "momentum": kw.get("momentum", 0.0), "decay": kw.get("decay", 0.9),
                "loss": {"mse": "MSE", "elementwise": "ElementwiseMSE"}[kw.get("loss", "mse")]}
    model = paper_model(generator=g)
    runs = stack_models([paper_model(generator=g), paper_model(generator=g)])
    assert model.fit(x, y, epochs=1, seed=0, **kw).params == expected
    assert fit_torch(torch_twin(model), x, y, epochs=1, seed=0, **kw).params == expected
    assert [h.params for h in fit_runs(runs, torch.stack([x, x]), torch.stack([y, y]), epochs=1, seed=0, **kw)] \
        == [expected, expected]


def test_predict_checks_x_alone_and_builds_no_targets(monkeypatch):
    """predict used to build a dummy label tensor (and its one-hot targets) to reuse fit's check."""
    def no_targets(*args, **kwargs):
        raise AssertionError("predict built targets")

    model = paper_model(generator=torch.Generator().manual_seed(0))
    x, y = build_data(30, generator=torch.Generator().manual_seed(1))
    expected = model.predict(x)
    monkeypatch.setattr(minidl.training, "as_targets", no_targets)
    assert torch.equal(model.predict(x), expected)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 2\), got \(30, 3\)"):
        model.predict(torch.ones(30, 3))
