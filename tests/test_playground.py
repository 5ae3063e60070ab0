"""The playground's logic, without Jupyter: set a control's value as the browser would, and check
that training ran with that value and that the figure changed."""
import gc
import io
import math
import re
import time
import weakref

import numpy as np
import PIL.Image
import pytest
import torch

from minidl import DivergenceError, Linear, build_data, paper_model
from minidl.lab.playground import (LINEAR_MODEL_NOTE, Playground, build_model, divergence_message,
                                   handling_a_browser_message, measure_latency)

from helpers import same_weights

SMALL = dict(n_train=200, n_validation=200, epochs=3)   # fast, same code path as the defaults
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIVERGED = re.compile(r"^diverged at epoch (\d+): loss is (nan|inf|-inf); try a smaller learning rate$")


@pytest.fixture
def build():
    """Build playgrounds (``build(**options)``) that are closed when the test ends."""
    built = []

    def make(**options):
        built.append(Playground(**options))
        return built[-1]
    yield make
    for playground in built:
        playground.close()


@pytest.fixture
def playground(build):
    return build(**SMALL)


def live_playgrounds() -> int:
    gc.collect()
    return sum(type(o) is Playground for o in gc.get_objects())


def loss_curve(playground, which="current"):
    """The y data of the training-loss line of this run (or of the previous one)."""
    return list(playground.lines[which, "loss"].get_ydata())


def reference_model(playground, **changes):
    """What fit gives, outside the playground, with the playground's data, seeds and values:
    the trained model and its history."""
    p = {**playground.current_params(), **changes}
    model = build_model(p["depth"], p["width"], p["init"], generator=torch.Generator().manual_seed(p["seed"]))
    history = model.fit(playground.x, playground.y, playground.x_val, playground.y_val, epochs=p["epochs"],
                        step_size=p["step_size"], batch_size=p["batch_size"], momentum=p["momentum"],
                        decay=p["decay"], loss=p["loss"], seed=p["seed"]).history
    return model, history


def reference_history(playground, **changes):
    return reference_model(playground, **changes)[1]


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_built_playground_has_trained_once_and_drawn_a_png(playground):
    assert playground.runs == 1
    assert playground.diverged is None
    assert len(playground.history["loss"]) == SMALL["epochs"]
    assert playground.png.startswith(PNG_SIGNATURE)
    assert playground.png == bytes(playground.image.value)
    assert loss_curve(playground) == playground.history["loss"]
    assert re.fullmatch(r"after epoch 3: \d+ of 200 misclassified", playground.regions_ax.get_title())
    assert "run 1 done" in playground.status.value


def test_defaults_are_the_papers_hyperparameters_with_the_notebooks_loss(build):
    playground = build(train=False)
    assert playground.current_params() == dict(step_size=0.01, momentum=0.0, batch_size=1, epochs=100, decay=0.9,
                                               loss="elementwise", init="uniform", depth=3, width=25, seed=0)
    model = build_model(3, 25, "uniform", generator=torch.Generator().manual_seed(0))
    assert same_weights(model.state_dict(), paper_model(generator=torch.Generator().manual_seed(0)).state_dict())   # the paper's network


def test_build_model_stacks_hidden_layers_relu_then_tanh():
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]
    assert kinds(build_model(0, 25)) == ["Linear"]                   # a linear model
    assert kinds(build_model(1, 5)) == ["Linear", "Tanh", "Linear"]
    assert kinds(build_model(4, 10)) == ["Linear", "ReLU"] * 3 + ["Linear", "Tanh", "Linear"]
    assert [(m.in_features, m.out_features) for m in build_model(2, 10).linears] == [(2, 10), (10, 10), (10, 2)]
    with pytest.raises(ValueError, match="depth"):
        build_model(-1, 25)


def test_learning_rate_slider_retrains_with_the_new_value(playground):
    before_image, before_curve = playground.png, loss_curve(playground)
    playground.learning_rate.value = 0.0316
    assert playground.runs == 2
    assert playground.params["step_size"] == 0.0316
    assert playground.history == reference_history(playground, step_size=0.0316)
    assert playground.history != reference_history(playground, step_size=0.01)
    assert loss_curve(playground) == playground.history["loss"] != before_curve
    assert playground.png != before_image


@pytest.mark.parametrize("control, value, key", [
    ("momentum", 0.5, "momentum"),
    ("batch_size", 10, "batch_size"),
    ("epochs", 5, "epochs"),
    ("decay", 1.0, "decay"),
    ("init", "xavier", "init"),
    ("loss", "mse", "loss"),
    ("depth", 2, "depth"),
    ("width", 10, "width"),
])
def test_every_control_retrains_with_its_value(playground, control, value, key):
    before_curve = loss_curve(playground)
    getattr(playground, control).value = value
    assert playground.runs == 2
    assert playground.params[key] == value
    assert playground.history == reference_history(playground)
    assert len(playground.history["loss"]) == playground.epochs.value
    assert loss_curve(playground) != before_curve
    if control != "loss":                                              # (the other MSE is not compared)
        assert loss_curve(playground, "previous") == before_curve      # the run before, kept faded


def test_the_loss_axis_says_which_mse_it_shows(playground):
    assert playground.loss_ax.get_ylabel() == "MSE, per-element mean"
    assert "(MSE, per-element mean)" in playground.status.value
    playground.loss.value = "mse"
    assert playground.loss_ax.get_ylabel() == "MSE, paper's formula (sum over outputs)"
    assert "(MSE, paper's formula (sum over outputs))" in playground.status.value
    assert loss_curve(playground, "previous") == []      # the other convention's loss is not compared
    assert len(playground.lines["previous", "accuracy"].get_ydata()) == 3


def test_the_previous_run_is_drawn_faded_behind_the_new_one(playground):
    first = playground.history
    playground.momentum.value = 0.5
    assert playground.previous == first and playground.previous_params["momentum"] == 0.0
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        previous, current = playground.lines["previous", key], playground.lines["current", key]
        assert list(previous.get_ydata()) == first[key]
        assert list(current.get_ydata()) == playground.history[key]
        assert previous.get_alpha() < 1 and current.get_alpha() is None
        assert previous.get_color() == current.get_color()


def test_depth_zero_is_a_linear_model_and_says_it_cannot_learn_a_disk(playground):
    playground.depth.value = 0
    assert [type(layer) for layer in playground.model.layers] == [Linear]
    assert playground.width.disabled
    assert LINEAR_MODEL_NOTE in playground.status.value
    assert "straight boundary" in playground.regions_ax.get_title()
    assert "no hidden layer" in playground.suptitle.get_text()
    playground.depth.value = 1
    assert not playground.width.disabled
    assert LINEAR_MODEL_NOTE not in playground.status.value


def test_new_data_button_draws_new_points_and_retrains(playground):
    x_before, curve_before = playground.x.clone(), loss_curve(playground)
    playground.new_data.click()
    assert playground.runs == 2
    assert playground.params["seed"] == 1
    assert not torch.equal(playground.x, x_before)
    assert loss_curve(playground) != curve_before


def test_curves_and_decision_regions_are_redrawn_while_training_runs(build):
    playground = build(**{**SMALL, "epochs": 4}, render_every=0, train=False)
    seen = []   # (training loss drawn, training loss so far, regions title, regions) at each image change
    playground.image.observe(lambda change: seen.append((
        loss_curve(playground), list(playground.history["loss"]), playground.regions_ax.get_title(),
        playground.regions_image.get_array().copy())), names="value")
    playground.run()
    assert [len(drawn) for drawn, *_ in seen] == [1, 2, 3, 4, 4]   # every epoch, then the end
    assert all(drawn == so_far for drawn, so_far, *_ in seen)
    assert [title.split(":")[0] for _, _, title, _ in seen] == [f"after epoch {k}" for k in (1, 2, 3, 4, 4)]
    grids = [regions for *_, regions in seen]
    assert [g.shape for g in grids] == [(50, 50)] * 4 + [(200, 200)]    # coarse while training, fine at the end
    assert any(not np.array_equal(a, b) for a, b in zip(grids[:3], grids[1:4]))   # the regions move
    final = playground.model.predict(torch.tensor([[0.5, 0.5], [0.02, 0.02]]))
    assert grids[-1][100, 100] == final[0] and grids[-1][1, 1] == final[1]        # the trained model's
    assert len(playground.update_times) == len(playground.draw_seconds) == 5


def test_the_blitted_picture_is_the_figure(playground):
    """Redraws paint only the changing artists over a saved background: the PNG must show what a
    full draw of the figure shows (a few antialiased pixels where lines cross the frame may differ)."""
    blitted = np.asarray(PIL.Image.open(io.BytesIO(playground.png)).convert("RGB"), dtype=int)
    buffer = io.BytesIO()
    playground.figure.savefig(buffer, format="png", dpi=playground.dpi)
    full = np.asarray(PIL.Image.open(buffer).convert("RGB"), dtype=int)
    assert blitted.shape == full.shape
    differs = (np.abs(blitted - full).max(axis=2) > 40).mean()
    assert differs < 0.002, f"{differs:.2%} of the pixels differ"


def test_redraws_while_training_are_throttled_by_default(build):
    playground = build(**{**SMALL, "epochs": 8}, train=False)
    playground.run()
    assert 2 <= len(playground.update_times) < 9          # first epoch, maybe some, and the end


def test_a_large_learning_rate_says_diverged_in_words(playground):
    playground.learning_rate.value = 1.0
    assert playground.runs == 2
    assert DIVERGED.match(playground.diverged), playground.diverged
    assert playground.diverged in playground.status.value
    texts = [t.get_text().replace("\n", " ") for t in playground.regions_ax.texts]
    assert playground.diverged in texts
    assert not playground.regions_image.get_visible()
    epoch = int(DIVERGED.match(playground.diverged).group(1))
    assert len(playground.history["loss"]) == epoch - 1       # the finished epochs stay drawn
    playground.learning_rate.value = 0.01                    # and it recovers
    assert playground.diverged is None
    assert playground.regions_image.get_visible()
    assert playground.regions_ax.get_title().startswith("after epoch 3")


def test_divergence_message_reads_the_loss_value_from_the_error():
    error = DivergenceError("training diverged at epoch 7: ...", 7, {}, loss=float("inf"))
    assert divergence_message(error) == "diverged at epoch 7: loss is inf; try a smaller learning rate"
    error = DivergenceError("training diverged at epoch 2: ...", 2, {}, loss=float("nan"))
    assert divergence_message(error) == "diverged at epoch 2: loss is nan; try a smaller learning rate"


def test_divergence_error_from_fit_carries_the_non_finite_loss():
    x, y = build_data(200, generator=torch.Generator().manual_seed(0))
    with pytest.raises(DivergenceError) as caught:
        paper_model(generator=torch.Generator().manual_seed(0)).fit(x, y, epochs=5, step_size=10.0, seed=0)
    assert not math.isfinite(caught.value.loss)
    assert f"loss is {caught.value.loss:g}" in divergence_message(caught.value)


@pytest.mark.parametrize("option, value, error", [
    ("n_train", 1, ValueError), ("n_train", 2.5, TypeError), ("epochs", 0, ValueError),
    ("epochs", 101, ValueError), ("render_every", -1, ValueError), ("render_every", "fast", TypeError),
    ("seed", -1, ValueError), ("background", "yes", TypeError),
])
def test_bad_options_are_refused_with_their_name(option, value, error):
    with pytest.raises(error, match=option):
        Playground(**{option: value}, train=False)


def test_measure_latency_reports_seconds_for_a_slider_change():
    before = live_playgrounds()
    result = measure_latency(repeats=1, **SMALL)
    assert live_playgrounds() == before          # the playground it built is closed and freed
    assert set(result) == {"first_update_s", "full_run_s", "full_run_cpu_s", "draw_s", "redraws", "epochs", "n_train"}
    assert 0 < result["first_update_s"] <= result["full_run_s"]
    assert 0 < result["draw_s"] < result["full_run_s"]
    assert 2 <= result["redraws"] <= SMALL["epochs"] + 1
    assert result["full_run_cpu_s"] > 0
    assert (result["epochs"], result["n_train"]) == (SMALL["epochs"], SMALL["n_train"])


# --- runs in the background and the Stop button --------------------------------------------------

def test_outside_a_kernel_changes_train_before_they_return(playground):
    assert not handling_a_browser_message()
    playground.learning_rate.value = 0.02
    assert not playground.running and playground.runs == 2 and playground.params["step_size"] == 0.02


def test_stop_ends_a_background_run_and_keeps_the_weights_trained_so_far(build):
    playground = build(**{**SMALL, "epochs": 100}, background=True, train=False)
    assert playground.stop_button.disabled                       # nothing to stop yet
    playground.run()
    assert playground.running and not playground.stop_button.disabled
    wait_for(lambda: len(playground.history["loss"]) >= 2)
    playground.stop_button.click()                               # what the browser's click does
    assert not playground.running and playground.stop_button.disabled
    k = playground.stopped_at
    assert 2 <= k < 100 and len(playground.history["loss"]) == k
    assert re.search(rf"run 1 stopped at epoch {k} of 100 \(its weights are kept\)", playground.status.value)
    model, history = reference_model(playground, epochs=k)
    assert playground.history == history
    assert same_weights(playground.model.state_dict(), model.state_dict())                 # the weights of epoch k, not the first ones
    assert loss_curve(playground) == history["loss"]


def test_a_change_while_a_run_trains_stops_it_and_starts_the_new_one(build):
    playground = build(**{**SMALL, "epochs": 100}, background=True, train=False)
    playground.run()
    wait_for(lambda: len(playground.history["loss"]) >= 1)
    playground.learning_rate.value = 0.02          # returns at once, the new run trains in a thread
    assert playground.runs == 1 and playground.stopped_at is None and playground.params["step_size"] == 0.02
    assert 1 <= len(playground.previous["loss"]) < 100          # the stopped run, drawn faded
    playground.epochs.value = 5
    assert playground.wait(timeout=120)
    assert playground.runs == 3 and "run 3 done: 5 epochs" in playground.status.value
    assert playground.history == reference_history(playground)    # the same numbers as without threads


def test_an_error_in_a_background_run_is_shown_in_the_status_line(build):
    playground = build(**SMALL, background=True, train=False)
    playground.x = playground.x.double()              # fit refuses float64 data for a float32 model
    playground.run()
    assert playground.wait(timeout=60)
    assert isinstance(playground.error, TypeError) and "x_train" in str(playground.error)
    assert "run 1 failed: TypeError" in playground.status.value
    assert playground.stop_button.disabled


def test_close_stops_a_running_thread_and_the_playground_is_freed():
    playground = Playground(**{**SMALL, "epochs": 100}, background=True, train=False)
    playground.run()
    wait_for(lambda: len(playground.history["loss"]) >= 1)
    thread, ref = playground._thread, weakref.ref(playground)
    playground.close()
    assert not thread.is_alive() and not playground.running
    assert playground.stopped_at is not None and playground.stopped_at < 100
    del playground, thread
    gc.collect()
    assert ref() is None


# --- closing -------------------------------------------------------------------------------------

def test_an_open_playground_is_kept_alive_by_its_widgets():
    """Why close() exists: ipywidgets keeps every open widget in a registry, and the controls'
    observers hold the playground, so dropping the last name does not free it."""
    playground = Playground(**SMALL, train=False)
    ref = weakref.ref(playground)
    del playground
    gc.collect()
    assert ref() is not None
    ref().close()


def test_a_closed_playground_is_freed():
    playground = Playground(**SMALL)
    ref, figure = weakref.ref(playground), weakref.ref(playground.figure)
    playground.close()
    del playground
    gc.collect()
    assert ref() is None and figure() is None


def test_close_stops_the_controls_and_clears_the_figure_and_is_idempotent():
    playground = Playground(**SMALL)
    widgets = [playground.widget, playground.image, playground.status, *playground.controls]
    playground.close()
    assert playground.closed
    assert all(w.comm is None for w in widgets)          # closed: gone from the front-end
    assert playground.figure.axes == []
    playground.learning_rate.value = 0.1                 # no observer left: nothing retrains
    assert playground.runs == 1
    playground.close()                                   # a second close does nothing
    assert playground.closed
    with pytest.raises(RuntimeError, match="closed"):
        playground.run()


def test_the_gradient_panel_draws_one_curve_per_layer_for_every_epoch(playground):
    """The size of the gradient that reaches each Linear layer, per epoch (lab.diagnostics)."""
    layers = playground.params["depth"] + 1
    assert len(playground.gradients) == len(playground.history["loss"])
    assert all(len(epoch) == layers and all(g > 0 for g in epoch) for epoch in playground.gradients)
    visible = [line for line in playground.gradient_lines if line.get_visible()]
    assert len(visible) == layers
    assert [list(line.get_ydata()) for line in visible] == [list(col) for col in zip(*playground.gradients)]
    playground.depth.value = 1                            # retrains: two Linear layers now
    assert sum(line.get_visible() for line in playground.gradient_lines) == 2
    assert [t.get_text() for t in playground.gradient_legend.get_texts() if t.get_visible()] == ["layer 1", "layer 2"]
