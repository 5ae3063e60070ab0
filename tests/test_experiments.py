"""minidl.lab.experiments (the Fig. 1-3 reproduction); the main job is tests/test_reproduce.py.

Small and fast: a few seeds, a few epochs, small data sets. The full 30-run table is computed
by notebook 04 (tested by nbval).
"""
from __future__ import annotations

import json

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from minidl import paper_model
from minidl.lab import experiments as E
from minidl.losses import ElementwiseMSE, MSE
from minidl.lab.plots import decision_grid, distance_to_boundary
from minidl.runs import make_run
from minidl.utils import RADIUS

SEEDS = [3, 4, 5]
SMALL = dict(epochs=3, n_train=80, n_validation=40, n_test=30, progress=None)


@pytest.fixture(scope="module")
def results():
    return {loss: E.run_fig1(SEEDS, loss=loss, **SMALL) for loss in E.CONVENTIONS}


# --- run_fig1 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", E.CONVENTIONS)
def test_each_run_is_what_its_seed_gives_alone(results, loss):
    """Run r of the stacked experiment = make_run(seed r) + model.fit, same data and metrics."""
    result = results[loss]
    for r, seed in enumerate(SEEDS):
        g, data, model = make_run(seed, paper_model, SMALL["n_train"], SMALL["n_validation"], SMALL["n_test"])
        history = model.fit(*data[:4], epochs=SMALL["epochs"], loss=loss, generator=g)
        for k, values in history.history.items():
            assert result.histories[r].history[k] == pytest.approx(values, abs=1e-4), (seed, k)
        for stacked, alone in zip(result.data, data):
            assert torch.equal(stacked[r], alone)
        single = result.run_model(r)
        assert torch.allclose(single.forward(data[0]), model.forward(data[0]), atol=1e-4)


def test_final_values_hold_both_conventions(results):
    """The final MSE is recorded under both conventions: the paper's is C = 2 times the other,
    and the trained one equals the history's last epoch."""
    for loss, result in results.items():
        f = result.final
        assert set(f) == {"mse", "elementwise", "accuracy", "val_mse", "val_elementwise", "val_accuracy"}
        assert all(len(v) == len(SEEDS) for v in f.values())
        for prefix in ("", "val_"):
            assert f[prefix + "mse"] == pytest.approx([2 * v for v in f[prefix + "elementwise"]], rel=1e-5)
        for r, h in enumerate(result.histories):
            assert f[loss][r] == pytest.approx(h.history["loss"][-1], rel=1e-6)
            assert f["val_accuracy"][r] == pytest.approx(h.history["val_accuracy"][-1])
        assert result.table()["loss"] == result.summary()[loss]


def test_final_metrics_against_the_losses_directly(results):
    result = results["mse"]
    model = result.run_model(1)
    x, y = result.data[0][1], result.data[1][1]
    t = torch.nn.functional.one_hot(y, 2).float()
    out = model.forward(x)
    assert result.final["mse"][1] == pytest.approx(MSE.compute_loss(out, t).item(), rel=1e-5)
    assert result.final["elementwise"][1] == pytest.approx(ElementwiseMSE.compute_loss(out, t).item(), rel=1e-5)
    assert result.final["accuracy"][1] == pytest.approx((model.predict(x) == y).float().mean().item())


def test_the_two_conventions_train_differently(results):
    """Same seeds, same data and initial weights, but the gradient differs by 2: different weights."""
    a, b = results["mse"], results["elementwise"]
    assert torch.equal(a.data[0], b.data[0])
    assert a.final["elementwise"] != pytest.approx(b.final["elementwise"], rel=1e-3)


def test_run_fig1_refuses_bad_arguments():
    with pytest.raises(ValueError, match="loss: expected one of"):
        E.run_fig1([0], loss="l1", **SMALL)
    with pytest.raises(ValueError, match="seeds: expected distinct"):
        E.run_fig1([1, 1], **SMALL)
    with pytest.raises(ValueError, match="seeds: expected a non-empty list"):
        E.run_fig1([], **SMALL)
    with pytest.raises(ValueError, match="seeds"):
        E.run_fig1([-1], **SMALL)


def test_progress_is_printed_every_few_epochs(capsys):
    E.run_fig1([0], epochs=4, n_train=20, n_validation=10, n_test=0, progress=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("epoch")[1].split(":")[0].strip() for line in lines] == ["2/4", "4/4"]
    assert "val_accuracy" in lines[0]


# --- comparing with the paper ------------------------------------------------------------------

def fake_table(**means):
    return {k: {"mean": means.get(k, m), "std": 0.0} for k, (m, _) in E.PAPER_FIG1.items()}


def test_within_one_std_uses_the_papers_std():
    paper_acc, paper_std = E.PAPER_FIG1["accuracy"]
    inside = fake_table(accuracy=paper_acc - 0.99 * paper_std)
    outside = fake_table(accuracy=paper_acc + 1.01 * paper_std)
    assert E.within_one_std(inside)["accuracy"] is True
    assert E.within_one_std(outside)["accuracy"] is False
    assert E.distance_in_paper_std(outside)["accuracy"] == pytest.approx(1.01)
    assert E.within_one_std(fake_table()) == {k: True for k in E.PAPER_FIG1}


def test_matching_convention_picks_the_closest_pair(results):
    """Fake the final values so that (trained 'mse', measured 'elementwise') is exactly the paper's."""
    import copy
    fake = copy.deepcopy(results)
    loss, val = E.PAPER_FIG1["loss"][0], E.PAPER_FIG1["val_loss"][0]
    for name, r in fake.items():
        n = len(r.seeds)
        scale = 1.0 if name == "mse" else 3.0           # the other run is far from the paper
        r.final["elementwise"], r.final["val_elementwise"] = [scale * loss] * n, [scale * val] * n
        r.final["mse"], r.final["val_mse"] = [2 * scale * loss] * n, [2 * scale * val] * n
    assert E.matching_convention(fake) == ("mse", "elementwise")
    grid = E.mse_grid(fake)
    assert len(grid) == 4
    row = next(g for g in grid if (g["trained"], g["measured"]) == ("mse", "elementwise"))
    assert row["loss_distance"] == pytest.approx(0.0) and row["val_loss_distance"] == pytest.approx(0.0)


def test_table_measure_must_be_a_convention(results):
    with pytest.raises(ValueError, match="measure: expected one of"):
        results["mse"].table("sum")
    assert results["mse"].table("elementwise")["val_loss"] == results["mse"].summary()["val_elementwise"]


# --- files -------------------------------------------------------------------------------------

def test_write_fig1_writes_the_table_and_every_run(results, tmp_path):
    paths = E.write_fig1(results, tmp_path)
    assert [p.name for p in paths] == ["fig1_table.md", "fig1_table.json"]
    md = paths[0].read_text()
    assert "0.04256 ± 0.00469" in md and "0.9858 ± 0.0068" in md       # the paper's numbers
    assert E.COMMAND in md
    mean = results["elementwise"].summary()["accuracy"]["mean"]
    assert f"{mean:.4f} ±" in md
    record = json.loads(paths[1].read_text())
    assert record["paper"]["accuracy"] == {"mean": 0.9852, "std": 0.0057}
    assert set(record["conventions"]) == set(E.CONVENTIONS)
    conv = record["conventions"]["mse"]
    assert conv["seeds"] == SEEDS and conv["config"]["loss"] == "mse"
    assert conv["runs"]["accuracy"] == results["mse"].final["accuracy"]
    assert record["matching_convention"]["trained"] in E.CONVENTIONS


def test_write_fig1_refuses_anything_else(tmp_path):
    with pytest.raises(TypeError, match="write_fig1"):
        E.write_fig1({}, tmp_path)
    with pytest.raises(TypeError, match="write_fig1"):
        E.write_fig1({"mse": {"accuracy": [1.0]}}, tmp_path)


def test_figures_are_written_as_png(results, tmp_path):
    r = results["elementwise"]
    start = __import__("time").time()
    fig2 = E.plot_fig2(r.histories[0], tmp_path / "fig2.png")
    fig3 = E.plot_fig3(r.run_model(0), r.data[4][0], r.data[5][0], tmp_path / "fig3.png")
    for name in ("fig2.png", "fig3.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in E.written_since(start, tmp_path)] == ["fig2.png", "fig3.png"]
    assert E.written_since(start, tmp_path / "missing") == []
    assert len(fig2.axes) == 2 and len(fig3.axes) == 2
    assert fig2.axes[0].get_ylabel() == "MSE, per-element mean"     # the History says which loss it holds
    wrong = int((r.run_model(0).predict(r.data[4][0]) != r.data[5][0]).sum())
    for ax in fig3.axes:                     # both panels: the same points, the same count in red
        assert f"misclassified ({wrong})" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(fig3.axes[1].collections) > len(fig3.axes[0].collections)     # + the regions
    plt.close("all")


def test_distance_to_boundary():
    x = torch.tensor([[0.5, 0.5], [0.5 + RADIUS, 0.5], [1.0, 0.5]])
    assert distance_to_boundary(x).tolist() == pytest.approx([RADIUS, 0.0, 0.5 - RADIUS], abs=1e-6)


def test_figures_folder_is_the_repository_s():
    assert E.FIGURES == E.REPO_ROOT / "figures"
    assert (E.REPO_ROOT / "minidl" / "lab" / "experiments.py").is_file()


def test_the_learned_boundary_is_where_the_prediction_changes(results):
    """Fig. 3's contour: ``output_margin`` is positive exactly where the model predicts 1."""
    model = results["elementwise"].run_model(0)
    gx, gy, margin = E.output_margin(model, resolution=50)
    assert torch.equal((margin > 0).long(), decision_grid(model, resolution=50)[2])
    assert bool((margin > 0).any()) and bool((margin < 0).any())     # the boundary crosses the square


def test_every_loss_axis_says_which_mse_it_shows():
    from minidl.lab.plots import loss_label, plot_curves
    paper, mean = "MSE, paper's formula (sum over outputs)", "MSE, per-element mean"
    for names, label in ((("mse", MSE, "MSE"), paper), (("elementwise", ElementwiseMSE, "ElementwiseMSE"), mean)):
        assert {loss_label(name) for name in names} == {label}      # fit's name, the class, History.params'
    history = {"loss": [0.3, 0.2], "accuracy": [0.8, 0.9]}
    for loss, label in (("mse", paper), ("elementwise", mean)):
        fig, axes = plt.subplots(1, 2)
        plot_curves(axes, history, loss=loss)
        assert (axes[0].get_ylabel(), axes[1].get_ylabel()) == (label, "accuracy")
        assert E.plot_fig2(history, loss=loss).axes[0].get_ylabel() == label
    with pytest.raises(TypeError, match="loss"):
        plot_curves(axes, history)                                  # no default: the caller must say
    with pytest.raises(ValueError, match="loss"):
        E.plot_fig2(history)                                        # a dict does not say which loss
    with pytest.raises(ValueError, match="loss"):
        loss_label("mae")
    plt.close("all")
