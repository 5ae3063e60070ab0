"""minidl.engine: ``fit(..., engine="fast")`` gives the plain ``fit``'s weights, gradients and
histories bit for bit (``torch.equal``) for every configuration the kit uses, and refuses every
model whose code it does not run."""
from __future__ import annotations

import itertools
import sys

import pytest
import torch

from helpers import F64, Scale, generator
from minidl import ElementwiseMSE, Linear, MSE, ReLU, Sequential, Tanh, build_data, paper_model
from minidl.engine import compile as compile_engine
from minidl.runs import fit_runs, paper_runs


def gradients(model):
    return [grad for _, grad in model.param()]


def same_tensors(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def train_twice(make_model, data, **fit_kw):
    """The same model trained by each engine: (models, histories), plain first."""
    models, histories = [], []
    for engine in ("plain", "fast"):
        model = make_model()
        histories.append(model.fit(*data, engine=engine, **fit_kw).history)
        models.append(model)
    return models, histories


CONFIGURATIONS = list(itertools.product(
    [torch.float32, F64],            # dtype
    [1, 32, 250],                    # batch size: per sample; 300 = 9 x 32 + 12 (a smaller last batch); 250
    [0.0, 0.9],                      # momentum
    ["mse", "elementwise"],          # loss
    [0.9, 1.0],                      # decay
))


@pytest.mark.parametrize("dtype, batch_size, momentum, loss, decay", CONFIGURATIONS,
                         ids=lambda v: str(v).replace("torch.", ""))
def test_the_engine_gives_the_plain_fit_bit_for_bit(dtype, batch_size, momentum, loss, decay):
    data = build_data(300, generator=generator(1), dtype=dtype) + build_data(100, generator=generator(2), dtype=dtype)
    make = lambda: paper_model(generator=generator(0), dtype=dtype)
    (plain, fast), (h_plain, h_fast) = train_twice(make, data, epochs=3, batch_size=batch_size, momentum=momentum,
                                                   loss=loss, decay=decay, seed=3)
    assert same_tensors(list(plain.state_dict().values()), list(fast.state_dict().values()))
    assert same_tensors(gradients(plain), gradients(fast))
    assert h_plain == h_fast
    assert not torch.equal(plain.layers[0].weight, make().layers[0].weight)      # it did train


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("batch_size, momentum", [(1, 0.0), (1, 0.5), (64, 0.0), (64, 0.5)])
def test_the_engine_gives_the_plain_fit_of_many_runs_bit_for_bit(dtype, batch_size, momentum):
    results = []
    for engine in ("plain", "fast"):
        generators, data, stacked, _ = paper_runs([0, 1, 2], paper_model, n_train=200, n_validation=100, dtype=dtype)
        histories = fit_runs(stacked, *data, epochs=2, batch_size=batch_size, momentum=momentum,
                             generator=generators, engine=engine)
        results.append((stacked, [h.history for h in histories]))
    (plain, h_plain), (fast, h_fast) = results
    assert same_tensors(list(plain.state_dict().values()), list(fast.state_dict().values()))
    assert same_tensors(gradients(plain), gradients(fast))
    assert h_plain == h_fast


@pytest.mark.parametrize("layers", [
    lambda: (Linear(2, 8, dtype=F64), Tanh(), ReLU(), Linear(8, 2, dtype=F64)),       # two activations in a row
    lambda: (ReLU(), Linear(2, 8, dtype=F64), Tanh(), Linear(8, 2, dtype=F64), Tanh()),    # first and last
    lambda: (Sequential(Linear(2, 8, dtype=F64), ReLU()), Sequential(Linear(8, 2, dtype=F64))),   # nested
    lambda: (Linear(2, 2, dtype=F64),),
], ids=["activations-in-a-row", "activation-first-and-last", "nested", "one-linear"])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_the_engine_gives_the_plain_fit_on_other_built_in_architectures(layers, batch_size):
    torch.manual_seed(0)
    template = Sequential(*layers())
    models = []
    for engine in ("plain", "fast"):
        model = Sequential(*layers())
        model.load_state_dict(template.state_dict())
        model.fit(*build_data(100, generator=generator(1), dtype=F64), epochs=2, batch_size=batch_size,
                  seed=0, engine=engine)
        models.append(model)
    assert same_tensors(list(models[0].state_dict().values()), list(models[1].state_dict().values()))


def test_the_engine_trains_the_layers_own_tensors_and_keeps_them():
    model = paper_model(generator=generator(0))
    held = [value for value, _ in model.param()]          # tensors a student took before fit
    before = [v.clone() for v in held]
    model.fit(*build_data(100, generator=generator(1)), epochs=1, seed=0, engine="fast")
    assert all(a is b for a, (b, _) in zip(held, model.param()))
    assert not any(torch.equal(a, b) for a, b in zip(held, before))


def test_the_engine_sees_what_a_callback_changes_between_epochs():
    """The engine copies the layers' weights in at the start of every epoch: a callback that
    changes a weight is seen, as in the plain loop."""
    def shrink(model):
        return lambda epoch, logs: model.layers[0].weight.mul_(0.5)
    data = build_data(100, generator=generator(1), dtype=F64)
    models = []
    for engine in ("plain", "fast"):
        model = paper_model(generator=generator(0), dtype=F64)
        model.fit(*data, epochs=3, seed=0, callback=shrink(model), engine=engine)
        models.append(model)
    assert same_tensors(list(models[0].state_dict().values()), list(models[1].state_dict().values()))


def test_one_sample_at_a_time_the_engine_replays_a_recorded_step():
    model = paper_model(generator=generator(0))
    compiled = compile_engine(model, MSE, batch_size=1, momentum=0.0)
    assert compiled.step_for(torch.zeros(2)).__name__ == "replay"
    assert compiled.step_for(torch.zeros(10, 2)).__name__ == "step"        # batches are not recorded


def linear_forwards(model, **fit_kw) -> int:
    """How many times ``Linear.forward`` runs during ``model.fit(**fit_kw)``."""
    code, calls = Linear.forward.__code__, []
    sys.setprofile(lambda frame, event, arg: calls.append(1) if event == "call" and frame.f_code is code else None)
    try:
        model.fit(*build_data(200, generator=generator(1)), epochs=2, seed=0, **fit_kw)
    finally:
        sys.setprofile(None)
    return len(calls)


def test_the_engine_runs_the_layers_methods_only_for_the_metrics():
    """4 Linear layers x (one forward pass for the metrics of each of 2 epochs + the probe step
    that checks the engine against the layers' code); the plain fit runs them for each of the
    200 samples and the metrics."""
    assert linear_forwards(paper_model(), engine="fast") == 4 * (2 + 1)
    assert linear_forwards(paper_model(), engine="plain") == 4 * (2 * 200 + 2)


# --- what the engine refuses --------------------------------------------------------------
class MyTanh(Tanh):
    """A subclass of a built-in layer (the engine would not run its code)."""


def refusal(model, **kw):
    with pytest.raises(ValueError) as error:
        model.fit(*build_data(20, generator=generator(1)), epochs=1, engine="fast", **kw)
    return str(error.value)


def test_the_engine_refuses_a_layer_it_does_not_know_and_names_it():
    model = Sequential(Linear(2, 4), Scale(), ReLU(), Linear(4, 2))
    before = [v.clone() for v, _ in model.param()]
    message = refusal(model)
    assert "layer 1 Scale()" in message and "engine='plain'" in message
    assert same_tensors([v for v, _ in model.param()], before)          # nothing changed


def test_the_engine_refuses_a_subclass_of_a_built_in_layer():
    message = refusal(Sequential(Linear(2, 4), MyTanh(), Linear(4, 2)))
    assert "layer 1 MyTanh()" in message and "a subclass of Tanh" in message


def test_the_engine_refuses_a_built_in_class_whose_method_a_notebook_replaced(monkeypatch):
    monkeypatch.setattr(Tanh, "backward", lambda self, g: Tanh.__mro__[1].backward(self, g) / 2)
    message = refusal(paper_model())
    assert "Tanh.backward" in message and "engine='plain'" in message


def test_the_engine_refuses_a_method_replaced_on_one_layer():
    model = paper_model()
    model.layers[5].derivative = lambda x: 1 - x
    assert "layer 5 Tanh()" in refusal(model) and "derivative" in refusal(model)


def test_the_engine_refuses_a_replaced_loss_method(monkeypatch):
    monkeypatch.setattr(MSE, "compute_grad", classmethod(lambda cls, p, t: (p - t)))
    assert "MSE.compute_grad" in refusal(paper_model())


def test_the_engine_refuses_a_subclass_of_sequential():
    class MySequential(Sequential):
        pass
    assert "Sequential models" in refusal(MySequential(Linear(2, 4), ReLU(), Linear(4, 2)))


def test_an_unknown_engine_is_refused_by_name():
    with pytest.raises(ValueError, match=r"engine: expected one of \('plain', 'fast'\), got 'turbo'"):
        paper_model().fit(*build_data(20), epochs=1, engine="turbo")


@pytest.mark.parametrize("engine", ["plain", "fast"])
def test_a_model_made_in_inference_mode_is_refused_with_a_reason(engine):
    with torch.inference_mode():
        model = paper_model(generator=generator(0))
    with pytest.raises(ValueError, match="made under torch.inference_mode"):
        model.fit(*build_data(20, generator=generator(1)), epochs=1, engine=engine)


def test_elementwise_and_paper_loss_are_the_two_losses_it_compiles():
    for loss in (MSE, ElementwiseMSE):
        compile_engine(paper_model(), loss, batch_size=1, momentum=0.0)
    with pytest.raises(ValueError, match="cannot compile the loss"):
        compile_engine(paper_model(), type("HalfMSE", (MSE,), {}), batch_size=1, momentum=0.0)


def test_the_engine_refuses_layers_whose_source_was_edited(monkeypatch):
    """An edit of minidl/layers.py itself keeps the method's name and module, which is all the
    class check sees; the probe step (one step by each code, compared bit for bit) catches it."""
    def derivative(self, x):
        return 2 * x.sign()                   # the edit: a slope of 2
    derivative.__qualname__, derivative.__module__ = "ReLU.derivative", "minidl.layers"
    monkeypatch.setattr(ReLU, "derivative", derivative)
    for batch_size in (1, 8):
        message = refusal(paper_model(), batch_size=batch_size)
        assert "cannot vouch for this model" in message and "layer 0 Linear" in message and "engine='plain'" in message
