"""Tests of minidl.lab.studies: the measuring logic behind notebooks 05 and 06."""
import json
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from minidl import paper_model
from minidl.lab.compare import torch_twin
from minidl.runs import make_run
from minidl.lab.studies import (batch_size_sweep, epochs_to_reach, final_values, fraction_of_increases,
                                max_weight_difference, mean_abs_second_difference, mean_curve,
                                seconds_per_epoch, smoothness, step_by_step, time_minidl_and_torch,
                                torch_init_model, total_variation, train_configs, write_table)
from minidl.lab.tables import summarise
from minidl.training import History


def small_run(seed=0, n=40, dtype=torch.float32, factory=paper_model):
    return make_run(seed, factory, n_train=n, n_validation=n, dtype=dtype)


# --- torch_init_model --------------------------------------------------------------------------

def test_torch_init_model_is_the_paper_draw_scaled_to_torch_default_range():
    paper = paper_model(generator=torch.Generator().manual_seed(3))
    ours = torch_init_model(generator=torch.Generator().manual_seed(3))
    for p, o in zip(paper.linears, ours.linears):
        bound = 1 / math.sqrt(o.in_features)
        assert torch.allclose(o.weight, p.weight * bound)
        assert torch.allclose(o.bias, p.bias * bound)
        assert float(o.weight.abs().max()) <= bound and float(o.bias.abs().max()) <= bound


def test_torch_init_model_matches_torch_nn_linear_default_range():
    torch.manual_seed(0)
    reference = torch.nn.Linear(25, 25).weight.detach()
    ours = torch_init_model(generator=torch.Generator().manual_seed(0)).linears[1].weight
    # same support U(-1/5, 1/5): both fill it (625 draws), and their spreads agree
    assert 0.19 < float(reference.abs().max()) <= 0.2 and 0.19 < float(ours.abs().max()) <= 0.2
    assert abs(float(reference.std()) - float(ours.std())) < 0.01
    assert float(ours.abs().max()) < 0.5 * float(paper_model().linears[1].weight.abs().max())


def test_torch_init_model_draws_what_paper_model_draws():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    paper_model(generator=g1), torch_init_model(generator=g2)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


# --- minidl against torch, step by step ----------------------------------------------------------

def test_max_weight_difference_zero_for_twin_and_sees_a_change():
    model = paper_model(generator=torch.Generator().manual_seed(0))
    net = torch_twin(model)
    assert max_weight_difference(model, net) == 0.0
    with torch.no_grad():
        net[4].bias[3] += 0.25
    assert max_weight_difference(model, net) == pytest.approx(0.25)


def test_max_weight_difference_refuses_different_networks():
    model = paper_model()
    with pytest.raises(ValueError, match="max_weight_difference"):
        max_weight_difference(model, torch.nn.Sequential(torch.nn.Linear(2, 3)))


@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("loss", ["mse", "elementwise"])
def test_step_by_step_float64_agrees_to_rounding(momentum, loss):
    _, (x, y, _, _), model = small_run(dtype=torch.float64)
    before = model.state_dict()
    d = step_by_step(model, x, y, steps=60, momentum=momentum, loss=loss,
                     generator=torch.Generator().manual_seed(1))
    assert d.shape == (60,)
    assert float(d.max()) < 1e-12
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # not trained


def test_step_by_step_sees_a_wrong_momentum_translation():
    _, (x, y, _, _), model = small_run(dtype=torch.float64)
    d = step_by_step(model, x, y, steps=60, momentum=0.5, torch_lr=0.01,
                     generator=torch.Generator().manual_seed(1))
    assert float(d[-1]) > 1e-3


# --- smoothness ---------------------------------------------------------------------------------

def test_smoothness_of_known_curves():
    down = [5.0, 4.0, 2.5, 2.0, 1.0]
    assert total_variation(down) == 4.0
    assert fraction_of_increases(down) == 0.0
    zigzag = [1.0, 0.0, 1.0, 0.0, 1.0]
    assert total_variation(zigzag) == 4.0
    assert fraction_of_increases(zigzag) == 0.5
    assert mean_abs_second_difference(zigzag) == 2.0
    assert mean_abs_second_difference([3.0, 2.0, 1.0, 0.0]) == 0.0
    assert set(smoothness(down)) == {"total_variation", "fraction_of_increases", "mean_abs_second_difference"}


@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=50), st.floats(-10, 10), st.floats(0.1, 10))
@settings(max_examples=100, deadline=None)
def test_total_variation_properties(curve, shift, scale):
    tv = total_variation(curve)
    assert tv >= abs(curve[-1] - curve[0]) - 1e-9
    assert total_variation([c + shift for c in curve]) == pytest.approx(tv, abs=1e-6)
    assert total_variation([c * scale for c in curve]) == pytest.approx(tv * scale, rel=1e-9, abs=1e-6)
    assert 0.0 <= fraction_of_increases(curve) <= 1.0


@pytest.mark.parametrize("bad", [[1.0, 2.0], [[1.0, 2.0, 3.0]], [1.0, float("nan"), 2.0]])
def test_smoothness_refuses_bad_curves(bad):
    with pytest.raises(ValueError, match="total_variation"):
        total_variation(bad)


# --- timing -------------------------------------------------------------------------------------

def test_seconds_per_epoch_calls_repeats_times():
    calls = []
    seconds = seconds_per_epoch(lambda: calls.append(1), repeats=3)
    assert len(calls) == 3 and seconds >= 0
    with pytest.raises(ValueError, match="repeats"):
        seconds_per_epoch(lambda: None, repeats=0)


def test_time_minidl_and_torch_leaves_model_alone():
    _, (x, y, xv, yv), model = small_run()
    before = model.state_dict()
    times = time_minidl_and_torch(model, x, y, xv, yv, repeats=1)
    assert set(times) == {"minidl", "minidl fast", "torch"} and all(t > 0 for t in times.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --- many runs ----------------------------------------------------------------------------------

def test_train_configs_matches_single_runs():
    kw = dict(epochs=2, decay=1.0, loss="elementwise")
    out = train_configs([0, 1], {"paper": paper_model, "torch": torch_init_model}, n_train=40,
                        n_validation=40, **kw)
    assert set(out) == {"paper", "torch"} and all(len(v) == 2 for v in out.values())
    for name, factory in (("paper", paper_model), ("torch", torch_init_model)):
        for r, seed in enumerate([0, 1]):
            g, (x, y, xv, yv), model = small_run(seed, factory=factory)
            alone = model.fit(x, y, xv, yv, generator=g, **kw).history
            for k, v in alone.items():
                assert out[name][r].history[k] == pytest.approx(v, rel=1e-4, abs=1e-5)
    assert out["paper"][0].history["loss"] != out["torch"][0].history["loss"]


def test_train_configs_refuses_empty():
    with pytest.raises(ValueError, match="train_configs"):
        train_configs([], {"paper": paper_model}, epochs=1)


def fake_histories():
    h1 = History({"loss": [0.5, 0.2], "val_accuracy": [0.8, 0.96]}, {})
    h2 = History({"loss": [0.4, 0.4], "val_accuracy": [0.9, 0.94]}, {})
    return [h1, h2]


def test_summarise_final_values_and_epochs_to_reach():
    hs = fake_histories()
    assert final_values(hs) == {"loss": [0.2, 0.4], "val_accuracy": [0.96, 0.94]}
    s = summarise(final_values(hs))
    assert s["loss"]["mean"] == pytest.approx(0.3)
    assert s["loss"]["std"] == pytest.approx(math.sqrt(0.02))    # sample std, n - 1
    assert epochs_to_reach(hs, 0.95) == [2, None]
    assert epochs_to_reach(hs, 0.85) == [2, 1]
    assert mean_curve(hs, "loss") == pytest.approx([0.45, 0.3])
    with pytest.raises(ValueError, match="final_values"):
        final_values([])


def test_batch_size_sweep_rows():
    rows = batch_size_sweep([1, 10, 40], [0, 1], epochs=2, n_train=40, timing_repeats=1)
    assert [r["batch_size"] for r in rows] == [1, 10, 40]
    assert [r["steps_per_epoch"] for r in rows] == [40, 4, 1]
    assert [r["steps"] for r in rows] == [80, 8, 2]
    for r in rows:
        assert r["seconds_per_epoch"] > 0 and 0 <= r["val_accuracy"] <= 1
    with pytest.raises(ValueError, match="batch_size"):
        batch_size_sweep([41], [0], epochs=1, n_train=40)


def test_write_table(tmp_path):
    hs = [History({"loss": [0.1, 0.03], "accuracy": [0.9, 0.97], "val_loss": [0.1, 0.04],
                   "val_accuracy": [0.9, 0.96]}, {}) for _ in range(2)]
    paper = {"loss": (0.02514, 0.00295), "accuracy": (0.9751, 0.0061),
             "val_loss": (0.03010, 0.00349), "val_accuracy": (0.9611, 0.00613)}
    summary = write_table(hs, paper, tmp_path / "t.md", tmp_path / "t.json", title="T",
                          config={"epochs": 2}, seeds=[0, 1])
    md = (tmp_path / "t.md").read_text()
    assert "0.02514 ± 0.00295" in md and "0.03000 ± 0.00000" in md
    record = json.loads((tmp_path / "t.json").read_text())
    assert record["summary"] == summary and record["runs"]["loss"] == [0.03, 0.03]
    assert record["paper"]["val_accuracy"] == {"mean": 0.9611, "std": 0.00613}


def test_train_configs_with_seeds_per_factory():
    out = train_configs({"paper": [0], "torch": [0, 1, 2]}, {"paper": paper_model, "torch": torch_init_model},
                        n_train=20, n_validation=20, epochs=1)
    assert len(out["paper"]) == 1 and len(out["torch"]) == 3
    with pytest.raises(ValueError, match="train_configs"):
        train_configs({"paper": [0]}, {"paper": paper_model, "torch": torch_init_model}, epochs=1)


def test_describe_runs():
    from minidl.lab.studies import describe_runs
    hs = [History({"loss": [0.5, 0.3, 0.2, 0.25], "val_accuracy": [0.9, 0.95, 0.97, 0.96]}, {}),
          History({"loss": [0.5, 0.4, 0.3, 0.2], "val_accuracy": [0.9, 0.92, 0.94, 0.96]}, {}),
          History({"loss": [0.5, 0.4, 0.3, 0.2], "val_accuracy": [0.9, 0.91, 0.92, 0.93]}, {})]
    row = describe_runs(hs, thresholds=(0.95, 0.97))
    assert row["val_accuracy"] == pytest.approx((0.96 + 0.96 + 0.93) / 3)
    assert row["epochs_to_0.95"] == 4.0              # runs reach it at 2, 4, never: median 4
    assert row["epochs_to_0.97"] == math.inf         # only one run of three reaches it
    assert row["fraction_of_increases"] == pytest.approx(1 / 9)
    assert row["total_variation"] == pytest.approx((0.35 + 0.3 + 0.3) / 3)   # 0.2+0.1+0.05, 0.3, 0.3
    assert row["val_accuracy_total_variation"] == pytest.approx((0.08 + 0.06 + 0.03) / 3)


def test_batch_size_sweep_reuses_given_histories():
    kw = dict(epochs=2, n_train=40, timing_repeats=1)
    trained = batch_size_sweep([1], [0, 1], **kw)[0]
    hs = train_configs([0, 1], {"m": paper_model}, n_train=40, epochs=2, decay=0.9, loss="mse")["m"]
    reused = batch_size_sweep([1], [0, 1], reuse={1: hs}, **kw)[0]
    assert reused["val_accuracy"] == pytest.approx(trained["val_accuracy"])
    with pytest.raises(ValueError, match="reuse"):
        batch_size_sweep([1], [0, 1, 2], reuse={1: hs}, **kw)


def test_train_configs_prints_progress_without_times(capsys):
    train_configs([0, 1], {"a": paper_model}, n_train=20, n_validation=10, epochs=4, progress=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("epoch")[1].split(":")[0].strip() for line in lines] == ["2/4", "4/4"]
    assert all(line.startswith("  [a] epoch") and not line.rstrip().endswith(" s)") for line in lines)
