"""The playground's logic, without Jupyter: set a control's value as the browser would, and check
that training ran with that value and that the figure changed."""
import gc
import math
import re
import weakref

import pytest
import torch

from minidl import DivergenceError, build_data, paper_model
from minidl.lab.playground import Playground, divergence_message, measure_latency

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


def loss_curve(playground):
    """The y data of the first line on the loss axes (the training loss)."""
    return list(playground.loss_ax.get_lines()[0].get_ydata())


def reference_history(playground, **changes):
    """What fit gives, outside the playground, with the playground's data and seeds."""
    p = {**playground.current_params(), **changes}
    model = paper_model(init=p["init"], generator=torch.Generator().manual_seed(p["seed"]))
    return model.fit(playground.x, playground.y, playground.x_val, playground.y_val, epochs=p["epochs"],
                     step_size=p["step_size"], batch_size=p["batch_size"], momentum=p["momentum"],
                     decay=p["decay"], seed=p["seed"]).history


def test_built_playground_has_trained_once_and_drawn_a_png(playground):
    assert playground.runs == 1
    assert playground.diverged is None
    assert len(playground.history["loss"]) == SMALL["epochs"]
    assert playground.png.startswith(PNG_SIGNATURE)
    assert playground.png == bytes(playground.image.value)
    assert loss_curve(playground) == playground.history["loss"]
    assert playground.regions_ax.get_title() == "decision regions (validation set)"
    assert "run 1 done" in playground.status.value


def test_defaults_are_the_papers_hyperparameters(build):
    p = build(train=False).current_params()
    assert p == dict(step_size=0.01, momentum=0.0, batch_size=1, epochs=10, decay=0.9, init="uniform", seed=0)


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
])
def test_every_control_retrains_with_its_value(playground, control, value, key):
    before_curve = loss_curve(playground)
    getattr(playground, control).value = value
    assert playground.runs == 2
    assert playground.params[key] == value
    assert playground.history == reference_history(playground)
    assert len(playground.history["loss"]) == playground.epochs.value
    assert loss_curve(playground) != before_curve


def test_new_data_button_draws_new_points_and_retrains(playground):
    x_before, curve_before = playground.x.clone(), loss_curve(playground)
    playground.new_data.click()
    assert playground.runs == 2
    assert playground.params["seed"] == 1
    assert not torch.equal(playground.x, x_before)
    assert loss_curve(playground) != curve_before


def test_curves_are_redrawn_while_training_runs(build):
    playground = build(**{**SMALL, "epochs": 4}, render_every=0, train=False)
    seen = []   # (training loss drawn, training loss so far, regions title) at each image change
    playground.image.observe(lambda change: seen.append((
        loss_curve(playground), list(playground.history["loss"]), playground.regions_ax.get_title())),
        names="value")
    playground.run()
    assert [len(drawn) for drawn, _, _ in seen] == [1, 2, 3, 4, 4]   # every epoch, then the end
    assert all(drawn == so_far for drawn, so_far, _ in seen)
    assert all(title == "decision regions (drawn when the run ends)" for _, _, title in seen[:-1])
    assert seen[-1][2] == "decision regions (validation set)"
    assert len(playground.update_times) == 5
    seen.clear()
    playground.run()                                   # the next run keeps the old regions meanwhile
    assert seen[0][2] == "previous decision regions (training...)"


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
    epoch = int(DIVERGED.match(playground.diverged).group(1))
    assert len(playground.history["loss"]) == epoch - 1       # the finished epochs stay drawn
    playground.learning_rate.value = 0.01                    # and it recovers
    assert playground.diverged is None
    assert playground.regions_ax.get_title() == "decision regions (validation set)"


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
    ("epochs", 101, ValueError), ("render_every", -1, ValueError), ("render_every", "fast", TypeError), ("seed", -1, ValueError),
])
def test_bad_options_are_refused_with_their_name(option, value, error):
    with pytest.raises(error, match=option):
        Playground(**{option: value}, train=False)


def test_measure_latency_reports_seconds_for_a_slider_change():
    before = live_playgrounds()
    result = measure_latency(repeats=1, **SMALL)
    assert live_playgrounds() == before          # the playground it built is closed and freed
    assert set(result) == {"first_update_s", "full_run_s", "full_run_cpu_s", "epochs", "n_train"}
    assert 0 < result["first_update_s"] <= result["full_run_s"]
    assert result["full_run_cpu_s"] > 0
    assert (result["epochs"], result["n_train"]) == (SMALL["epochs"], SMALL["n_train"])


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
