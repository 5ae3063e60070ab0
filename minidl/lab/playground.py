"""The playground of notebook 07: sliders that retrain the paper's network and redraw it.

Moving a control retrains the 2-25-25-25-2 network from the *same* initial weights on the
*same* data, so the only thing that changes is the control that moved. One figure shows the
training/validation loss and accuracy per epoch (redrawn while training runs) and the final
decision regions with the misclassified points and the true circle. The figure is a PNG in
an ``ipywidgets.Image``, so it looks the same in JupyterLab, in a test and in a screenshot.

    >>> from minidl.lab.playground import Playground
    >>> playground = Playground()            # trains once with the defaults
    >>> playground                           # in a notebook: the live widget
    >>> playground.learning_rate.value = 0.1 # retrains now, as releasing the slider does

Everything runs in the kernel's thread: while a run trains, the next slider change waits.
"""
from __future__ import annotations

import io
import statistics
import time

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from .. import paper_model
from .._checks import check_int
from .plots import plot_curves, plot_decision_regions
from ..training import METRICS, DivergenceError
from ..utils import build_data

DEFAULT_EPOCHS = 10          # a default run (training and drawing) within the 3 s target: measure_latency()
BATCH_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
STYLE = {"description_width": "110px"}
SLIDER = {"continuous_update": False, "style": STYLE}    # retrain when the slider is released, not while dragged


def divergence_message(error: DivergenceError) -> str:
    """The status line for a ``DivergenceError``: ``'diverged at epoch k: loss is nan; try a
    smaller learning rate'`` (with the error's epoch and loss)."""
    return f"diverged at epoch {error.epoch}: loss is {error.loss:g}; try a smaller learning rate"


class Playground:
    """Controls, a status line and one figure that retrains on every control change.

    Parameters:
        - ``n_train``, ``n_validation``: sizes of the training and validation sets (the paper:
          1000 each).
        - ``epochs``: the epochs slider's starting value.
        - ``seed``: seeds the data, the initial weights and the shuffling; "draw new data" adds 1.
        - ``render_every``: least number of seconds between two redraws of the curves while
          training runs; redrawing takes at most a quarter of the time. The first epoch is drawn
          at once, the end of the run always; ``0`` redraws after every epoch (slow motion).
        - ``dpi``: resolution of the figure's PNG (lower is faster to draw).
        - ``train``: train once with the defaults when built, so the figure is never empty.

    Attributes a test (or a curious student) can read after a run: ``history`` (per-epoch
    floats, as ``History.history``), ``params`` (the values the run trained with), ``runs``
    (how many runs finished), ``diverged`` (the message, or ``None``), ``model``,
    ``update_times`` (``time.perf_counter()`` after each redraw of the last run) and ``closed``.
    Call ``close()`` when done: until then the widgets keep the playground in memory.
    """

    def __init__(self, *, n_train: int = 1000, n_validation: int = 1000, epochs: int = DEFAULT_EPOCHS,
                 seed: int = 0, render_every: float = 0.25, dpi: int = 72, train: bool = True) -> None:
        self.n_train = check_int(n_train, "n_train", 2)
        self.n_validation = check_int(n_validation, "n_validation", 1)
        check_int(epochs, "epochs", 1, 100)
        self.seed = check_int(seed, "seed", 0)
        if isinstance(render_every, bool) or not isinstance(render_every, (int, float)):
            raise TypeError(f"render_every: expected a number of seconds, got {type(render_every).__name__}")
        if not 0 <= render_every < float("inf"):
            raise ValueError(f"render_every: expected a number of seconds >= 0, got {render_every!r}")
        self.render_every = float(render_every)
        self.dpi = check_int(dpi, "dpi", 10)

        self.learning_rate = widgets.FloatLogSlider(value=0.01, base=10, min=-4, max=0, step=0.25,
                                                    readout_format=".3g", description="learning rate", **SLIDER)
        self.momentum = widgets.FloatSlider(value=0.0, min=0.0, max=0.99, step=0.01, description="momentum", **SLIDER)
        self.batch_size = widgets.SelectionSlider(
            options=sorted({b for b in BATCH_SIZES if b <= n_train} | {n_train}), value=1,
            description="batch size", **SLIDER)
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=100, description="epochs", **SLIDER)
        self.decay = widgets.FloatSlider(value=0.9, min=0.5, max=1.0, step=0.01, description="step-size decay",
                                         **SLIDER)
        self.init = widgets.ToggleButtons(
            options=[("U[-1, 1] (paper)", "uniform"), ("Xavier", "xavier")], value="uniform",
            description="initialisation", style={**STYLE, "button_width": "140px"})
        self.new_data = widgets.Button(description="draw new data", icon="refresh")
        self.status = widgets.HTML(value="not trained yet")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.controls = [self.learning_rate, self.momentum, self.batch_size, self.epochs,
                         self.decay, self.init]
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox(self.controls[:3]), widgets.VBox(self.controls[3:] + [self.new_data])]),
            self.status, self.image])

        self.figure = Figure(figsize=(12, 3.6), dpi=dpi)
        self.figure.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.85, wspace=0.3)
        self.loss_ax, self.accuracy_ax, self.regions_ax = self.figure.subplots(1, 3)

        self.history: dict[str, list[float]] = {}
        self.params: dict[str, object] = {}
        self.runs = 0
        self.diverged: str | None = None
        self.model = None
        self.update_times: list[float] = []
        self.closed = False
        self._draw_data()
        for control in self.controls:
            control.observe(self._on_change, names="value")
        self.new_data.on_click(self._on_new_data)
        if train:
            self.run()

    # --- what the controls do --------------------------------------------------------------
    def _draw_data(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self.x, self.y = build_data(self.n_train, generator=g)
        self.x_val, self.y_val = build_data(self.n_validation, generator=g)

    def _on_change(self, change) -> None:
        self.run()

    def _on_new_data(self, button=None) -> None:
        self.seed += 1
        self._draw_data()
        self.run()

    def current_params(self) -> dict[str, object]:
        """The values the controls hold now, named as ``fit`` names them (plus ``init``)."""
        return dict(step_size=self.learning_rate.value, momentum=self.momentum.value,
                    batch_size=self.batch_size.value, epochs=self.epochs.value,
                    decay=self.decay.value, init=self.init.value, seed=self.seed)

    def run(self) -> None:
        """Retrain from the seeded initial weights with the current values, redrawing as it goes."""
        if self.closed:
            raise RuntimeError("Playground.run: this playground is closed; build a new Playground()")
        self.params = params = self.current_params()
        self.history = {k: [] for k in METRICS}
        self.diverged = None
        self.update_times = []
        self._next_draw = 0.0
        self._curves_drawn = False
        self.status.value = f"run {self.runs + 1}: training {params['epochs']} epochs..."
        self.model = paper_model(init=params["init"], generator=torch.Generator().manual_seed(self.seed))
        started = time.perf_counter()
        try:
            self.model.fit(self.x, self.y, self.x_val, self.y_val, epochs=params["epochs"],
                           step_size=params["step_size"], batch_size=params["batch_size"],
                           momentum=params["momentum"], decay=params["decay"], seed=self.seed,
                           callback=self._on_epoch)
        except DivergenceError as error:
            self.diverged = divergence_message(error)
        self.runs += 1
        self._draw(final=True)
        seconds = time.perf_counter() - started
        if self.diverged:
            self.status.value = f"run {self.runs} done: <b style='color:#c00'>{self.diverged}</b>"
        else:
            h = self.history
            self.status.value = (f"run {self.runs} done: {len(h['loss'])} epochs in {seconds:.2f} s; "
                                 f"validation loss {h['val_loss'][-1]:.4f}, "
                                 f"validation accuracy {h['val_accuracy'][-1]:.3f}")

    def _on_epoch(self, epoch: int, logs: dict[str, torch.Tensor]) -> None:
        for key, value in logs.items():
            self.history[key].append(value.item())
        if epoch == 0 or time.perf_counter() >= self._next_draw:
            self._draw(final=False)
            self.status.value = (f"run {self.runs + 1}: epoch {epoch + 1}/{self.params['epochs']}, "
                                 f"validation accuracy {self.history['val_accuracy'][-1]:.3f}")

    # --- drawing -------------------------------------------------------------------------------
    def _draw(self, final: bool) -> None:
        """Redraw the curves (and, at the end of a run, the decision regions) into the Image."""
        started = time.perf_counter()
        p, epochs_done = self.params, len(self.history["loss"])
        self._draw_curves(fresh=final or not self._curves_drawn)
        if final:
            self._draw_regions()
        else:
            self.regions_ax.set_title("previous decision regions (training...)" if self.runs
                                      else "decision regions (drawn when the run ends)")
        state = f"run {self.runs}" if final else f"run {self.runs + 1}, epoch {epochs_done}"
        self.figure.suptitle(f"{state}: learning rate {p['step_size']:.3g}, momentum {p['momentum']:g}, "
                             f"batch size {p['batch_size']}, decay {p['decay']:g}, init {p['init']}, "
                             f"{self.n_train} training points", fontsize=11,
                             color="#c00" if final and self.diverged else "black")
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.dpi)
        self.image.value = buffer.getvalue()
        done = time.perf_counter()
        self.update_times.append(done)
        if self.render_every > 0:   # drawing takes at most a quarter of the time
            self._next_draw = done + max(self.render_every, 3 * (done - started))

    def _draw_curves(self, fresh: bool) -> None:
        """Loss and accuracy per epoch. ``fresh``: from scratch with ``plot_curves``; otherwise
        only the lines' data change (cheaper: for the redraws while a run trains)."""
        axes, history = (self.loss_ax, self.accuracy_ax), self.history
        epochs_done = len(history["loss"])
        if not fresh:
            for ax, metric in zip(axes, ("loss", "accuracy")):
                for line, key in zip(ax.get_lines(), (metric, "val_" + metric)):
                    line.set_data(range(1, epochs_done + 1), history[key])
                ax.relim()
                ax.autoscale_view(scalex=False)
            return
        for ax in axes:
            ax.cla()
        if epochs_done:
            plot_curves(axes, history)
        for ax, title in zip(axes, ("loss (MSE)", "accuracy")):
            ax.set_axis_on() if epochs_done else ax.set_axis_off()
            ax.set_xlim(0.5, self.params["epochs"] + 0.5)
            ax.set_title(title)
            if not epochs_done:
                ax.text(0.5, 0.5, "no finished epoch", ha="center", va="center", transform=ax.transAxes)
        self._curves_drawn = epochs_done > 0

    def _draw_regions(self) -> None:
        """The decision regions of the trained model, or the divergence message in words."""
        ax = self.regions_ax
        ax.cla()
        if self.diverged:
            ax.set_axis_off()
            ax.text(0.5, 0.5, self.diverged.replace(": ", ":\n").replace("; ", ";\n"), ha="center",
                    va="center", color="#c00", fontsize=13, transform=ax.transAxes)
        else:
            ax.set_axis_on()
            plot_decision_regions(ax, self.model, self.x_val, self.y_val,
                                  title="decision regions (validation set)")

    def close(self) -> None:
        """Stop listening to the controls, close every widget and clear the figure.

        ipywidgets keeps each open widget in a registry, and the controls' observers hold this
        playground: until ``close()`` it stays in memory even when nothing else refers to it.
        After ``close()`` the controls do nothing and ``run()`` raises; ``history``,
        ``params`` and ``model`` can still be read. Closing twice does nothing.
        """
        if self.closed:
            return
        self.closed = True
        for control in self.controls:
            control.unobserve(self._on_change, names="value")
        self.new_data.on_click(self._on_new_data, remove=True)
        for widget in _descendants(self.widget):
            widget.close()
        self.figure.clear()

    @property
    def png(self) -> bytes:
        """The figure as it is now, as PNG bytes (for a static copy in the notebook)."""
        return bytes(self.image.value)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    """``widget`` and every widget inside it (the children of boxes, recursively)."""
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += _descendants(child)
    return out


def measure_latency(repeats: int = 3, **playground_options) -> dict[str, float]:
    """Seconds from a learning-rate change (what releasing the slider sends) to the first
    redrawn curves and to the end of the run (final figure drawn), in this process, without a
    browser. The playground is built and trained once first (not timed); then the learning rate
    moves one slider step up and back ``repeats`` times; the playground is closed at the end.

    Parameters:
        - ``repeats``: learning-rate changes timed; ``playground_options``: to ``Playground``.

    Returns:
        The medians ``first_update_s``, ``full_run_s`` and ``full_run_cpu_s`` (this process's
        CPU time for the run: less sensitive than the wall time to other programs sharing the
        machine; it counts both of torch's threads), and the run's ``epochs`` and ``n_train``.
    """
    check_int(repeats, "repeats", 1)
    playground = Playground(**playground_options)
    try:
        start_value = playground.learning_rate.value
        firsts, fulls, cpus = [], [], []
        for i in range(repeats):
            value = start_value * 10 ** 0.25 if i % 2 == 0 else start_value
            cpu, started = time.process_time(), time.perf_counter()
            playground.learning_rate.value = value
            cpus.append(time.process_time() - cpu)
            firsts.append(playground.update_times[0] - started)
            fulls.append(playground.update_times[-1] - started)
    finally:
        playground.close()
    return {"first_update_s": statistics.median(firsts), "full_run_s": statistics.median(fulls),
            "full_run_cpu_s": statistics.median(cpus), "epochs": playground.epochs.value,
            "n_train": playground.n_train}
