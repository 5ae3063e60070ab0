"""The playground of notebook 07: controls that retrain a small network and redraw it as it learns.

Moving a control retrains the network from the *same* initial weights on the *same* data, so the
only thing that changes is the control that moved. One figure shows the training/validation loss
and accuracy per epoch, the previous run's curves faded behind them, the size of the gradient that
reaches each layer (its RMS on the training set, ``minidl.lab.diagnostics``), and the decision
regions with the misclassified points and the true circle, all redrawn while the run trains. The figure is a
PNG in an ``ipywidgets.Image``, so it looks the same in JupyterLab, in a test and in a screenshot.

    >>> from minidl.lab.playground import Playground
    >>> playground = Playground()            # the paper's network, trained once with the defaults
    >>> playground                           # in a notebook: the live widget
    >>> playground.learning_rate.value = 0.1 # retrains now, as releasing the slider does

Where a run trains: a change made in the browser (a slider released, a button clicked) trains in a
background thread, so that the kernel stays free to hear the Stop button; the observer returns at
once. A change made by code (``slider.value = ...`` in a cell or a test) trains before the
assignment returns, so the next line reads the finished run. ``wait()`` waits for a background
run; a new change while a run trains stops that run first.
"""
from __future__ import annotations

import io
import statistics
import threading
import time

import ipywidgets as widgets
import numpy as np
import PIL.Image
import torch
from IPython import get_ipython
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import Linear, ReLU, Sequential, Tanh
from .._checks import check_int
from ..training import METRICS, DivergenceError
from ..utils import build_data, torch_threads
from .diagnostics import layer_statistics
from .plots import CLASS_COLOURS, decision_grid, draw_circle, loss_label

DEFAULT_EPOCHS = 100         # the paper's; a run can be stopped (the Stop button) and keeps its weights
BATCH_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
WIDTHS = (1, 2, 3, 5, 10, 25, 50)
MAX_DEPTH = 5
LOSSES = (("per-element mean", "elementwise"), ("sum over outputs (paper)", "mse"))
LOSS_TOOLTIPS = ("mean over the N x 2 entries: notebooks 04-06 and torch.nn.MSELoss",
                 "the paper's formula (Section III): the squared distance summed over the 2 outputs, averaged "
                 "over the samples; twice the per-element mean, so its steps are twice as large")
GRID_WHILE_TRAINING, GRID_AT_THE_END = 50, 200    # decision-region grid points per side
LOSS_RANGE, ACCURACY_RANGE = (0.01, 2.0), (0.3, 1.0)  # fixed axes: the frame is drawn once (blitting)
GRADIENT_RANGE = (1e-4, 1e2)                          # RMS of dl/ds per layer, log scale
GRADIENT_SAMPLES = 250          # the gradient panel measures on the first 250 training points (cheap, steady)
STYLE = {"description_width": "110px"}
SLIDER = {"continuous_update": False, "style": STYLE}    # retrain when the slider is released, not while dragged
LINEAR_MODEL_NOTE = "no hidden layer: a linear model, whose boundary is a straight line, cannot learn a disk"


def build_model(depth: int, width: int, init: str = "uniform", generator: torch.Generator | None = None) -> Sequential:
    """The playground's network: ``depth`` hidden layers of ``width`` units, then a linear output
    of 2. Each hidden layer is followed by ReLU, the last one by Tanh: ``depth=3, width=25`` is the
    paper's 2-25-25-25-2 with ReLU, ReLU, Tanh (the same weights as ``paper_model`` from the same
    generator). ``depth=0`` is one ``Linear(2, 2)``: a linear model.

    Parameters:
        - ``depth``: number of hidden layers, >= 0; ``width``: units per hidden layer, >= 1.
        - ``init``, ``generator``: to every ``Linear`` (``'uniform'``: the paper's U[-1, 1]).
    """
    check_int(depth, "depth", 0)
    check_int(width, "width", 1)
    sizes = [2] + [width] * depth + [2]
    layers = []
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        layers.append(Linear(n_in, n_out, init=init, generator=generator))
        if layer <= depth:
            layers.append(Tanh() if layer == depth else ReLU())
    return Sequential(*layers)


def divergence_message(error: DivergenceError) -> str:
    """The status line for a ``DivergenceError``: ``'diverged at epoch k: loss is nan; try a
    smaller learning rate'`` (with the error's epoch and loss)."""
    return f"diverged at epoch {error.epoch}: loss is {error.loss:g}; try a smaller learning rate"


def handling_a_browser_message() -> bool:
    """Whether the kernel is handling a message from the browser (a widget's comm message: a
    slider released, a button clicked) rather than running a cell; ``False`` outside a kernel."""
    kernel = getattr(get_ipython(), "kernel", None)
    return kernel is not None and kernel.get_parent().get("header", {}).get("msg_type") == "comm_msg"


class Stopped(Exception):
    """Raised by the playground's epoch callback to end a run early: the Stop button, a new run
    or ``close()``. ``fit`` lets it through; the model keeps the weights of the last epoch."""


class Playground:
    """Controls, a status line and one figure that retrains on every control change.

    Parameters:
        - ``n_train``, ``n_validation``: sizes of the training and validation sets (the paper:
          1000 each).
        - ``epochs``: the epochs slider's starting value (the paper's 100 by default).
        - ``seed``: the training and validation sets are drawn from
          ``torch.Generator().manual_seed(seed)`` (the same points as ``make_run(seed, ...)``
          draws), the initial weights and the shuffling each from a fresh generator with the same
          seed; so a run is not ``make_run(seed, ...)``'s, whose weights come after the data in
          one stream (notebook 07 says so). "draw new data" adds 1.
        - ``render_every``: least number of seconds between two redraws while a run trains;
          drawing takes at most a quarter of the time. The first epoch is drawn at once, the end
          of a run always; ``0`` redraws after every epoch (slow motion).
        - ``dpi``: resolution of the figure's PNG (lower is faster to draw).
        - ``background``: where runs started by the controls train: ``None`` in a background
          thread when the change comes from the browser, else before the change returns;
          ``True`` always in a thread (then ``wait()``), ``False`` never.
        - ``train``: train once with the defaults when built (not in a thread), so the figure is
          never empty.

    Attributes a test (or a curious student) can read after a run: ``history`` (per-epoch
    floats, as ``History.history``), ``gradients`` (per epoch, the RMS of the gradient dl/ds that
    reaches each ``Linear`` layer, first layer first: ``minidl.lab.diagnostics.layer_statistics``
    on the first 250 training points), ``params`` (the values the run trained with), ``previous``
    and ``previous_params`` (the same for the run before, drawn faded), ``runs`` (how many runs
    ended), ``diverged`` (the message, or ``None``), ``stopped_at`` (the last epoch of a stopped
    run, or ``None``), ``error`` (what made a background run fail, or ``None``), ``model``,
    ``update_times`` (``time.perf_counter()`` after each redraw of the last run),
    ``draw_seconds`` (what each of those redraws cost) and ``closed``. Call ``close()`` when
    done: until then the widgets keep the playground in memory.
    """

    def __init__(self, *, n_train: int = 1000, n_validation: int = 1000, epochs: int = DEFAULT_EPOCHS,
                 seed: int = 0, render_every: float = 0.4, dpi: int = 72, background: bool | None = None,
                 train: bool = True) -> None:
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
        if background not in (None, True, False):
            raise TypeError(f"background: expected None, True or False, got {background!r}")
        self.background = background

        self.history: dict[str, list[float]] = {}
        self.gradients: list[list[float]] = []
        self.previous: dict[str, list[float]] = {}
        self.params: dict[str, object] = {}
        self.previous_params: dict[str, object] = {}
        self.runs = 0
        self.diverged: str | None = None
        self.stopped_at: int | None = None
        self.error: Exception | None = None
        self.model: Sequential | None = None
        self.update_times: list[float] = []
        self.draw_seconds: list[float] = []
        self.closed = False
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()

        self._build_controls(epochs)
        self._build_figure()
        self._draw_data()
        for control in self.controls:
            control.observe(self._on_change, names="value")
        self.new_data.on_click(self._on_new_data)
        self.stop_button.on_click(self._on_stop)
        if train:
            self.run(background=False)

    # --- the widgets -------------------------------------------------------------------------
    def _build_controls(self, epochs: int) -> None:
        """The sliders and buttons (the paper's values by default), the status line and the image."""
        self.learning_rate = widgets.FloatLogSlider(value=0.01, base=10, min=-4, max=0, step=0.25,
                                                    readout_format=".3g", description="learning rate", **SLIDER)
        self.momentum = widgets.FloatSlider(value=0.0, min=0.0, max=0.99, step=0.01, description="momentum", **SLIDER)
        self.batch_size = widgets.SelectionSlider(
            options=sorted({b for b in BATCH_SIZES if b <= self.n_train} | {self.n_train}), value=1,
            description="batch size", **SLIDER)
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=100, description="epochs", **SLIDER)
        self.decay = widgets.FloatSlider(value=0.9, min=0.5, max=1.0, step=0.01, description="step-size decay",
                                         **SLIDER)
        self.depth = widgets.IntSlider(value=3, min=0, max=MAX_DEPTH, description="hidden layers", **SLIDER)
        self.width = widgets.SelectionSlider(options=WIDTHS, value=25, description="units per layer", **SLIDER)
        self.init = widgets.ToggleButtons(
            options=[("U[-1, 1] (paper)", "uniform"), ("Xavier", "xavier")], value="uniform",
            description="initialisation", style={**STYLE, "button_width": "140px"})
        self.loss = widgets.ToggleButtons(options=LOSSES, value="elementwise", description="loss (MSE)",
                                          tooltips=LOSS_TOOLTIPS, style={**STYLE, "button_width": "200px"})
        self.new_data = widgets.Button(description="draw new data", icon="refresh")
        self.stop_button = widgets.Button(description="stop", icon="stop", button_style="danger", disabled=True,
                                          tooltip="stop the run after this epoch, keeping its weights")
        self.status = widgets.HTML(value="not trained yet")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.controls = [self.learning_rate, self.momentum, self.batch_size, self.epochs, self.decay,
                         self.depth, self.width, self.init, self.loss]
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.learning_rate, self.momentum, self.batch_size, self.epochs]),
                          widgets.VBox([self.decay, self.depth, self.width])]),
            self.init, self.loss, widgets.HBox([self.new_data, self.stop_button]), self.status, self.image])

    def _build_figure(self) -> None:
        """The figure and every artist in it, made once: a redraw changes only their data.

        The axes are fixed (the loss on a log scale from 0.01 to 2, the accuracy from 0.3 to 1,
        the epochs of the run), so the frame, ticks and labels are drawn once into a saved
        background and each redraw paints only the changing artists over it (blitting).
        """
        self.figure = Figure(figsize=(15.5, 4.1), dpi=self.dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.05, right=0.99, bottom=0.23, top=0.84, wspace=0.32)
        self.loss_ax, self.accuracy_ax, self.gradient_ax, self.regions_ax = self.figure.subplots(1, 4)
        self.lines = {}    # ("current" | "previous", metric key) -> Line2D
        for ax, metric in ((self.loss_ax, "loss"), (self.accuracy_ax, "accuracy")):
            for key, colour, name in ((metric, "C0", "training"), ("val_" + metric, "C1", "validation")):
                self.lines["previous", key], = ax.plot([], [], color=colour, alpha=0.35, linewidth=1,
                                                       linestyle="--", label=f"{name}, previous run")
                self.lines["current", key], = ax.plot([], [], color=colour, label=name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
            ax.grid(alpha=0.3)
        self.loss_ax.set(yscale="log", ylim=LOSS_RANGE, title="loss")
        self.accuracy_ax.set(ylim=ACCURACY_RANGE, title="accuracy", ylabel="accuracy")
        self.gradient_lines = [self.gradient_ax.plot([], [], color=f"C{2 + k}", label=f"layer {k + 1}")[0]
                               for k in range(MAX_DEPTH + 1)]
        self.gradient_ax.set(yscale="log", ylim=GRADIENT_RANGE, title="gradient reaching each layer (per-element MSE)",
                             xlabel="epoch", ylabel=r"RMS of $\partial\ell/\partial s^{(l)}$")
        self.gradient_ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        self.gradient_ax.grid(alpha=0.3)
        self.gradient_legend = self.gradient_ax.legend(handles=self.gradient_lines, fontsize=7, loc="lower left",
                                                       ncol=2, title="layer (1 = input side)", title_fontsize=7)

        ax = self.regions_ax
        self.regions_image = ax.imshow(np.zeros((2, 2)), extent=(0, 1, 0, 1), origin="lower", vmin=0, vmax=1,
                                       cmap=ListedColormap(CLASS_COLOURS), alpha=0.25, interpolation="nearest")
        self.correct_points = ax.scatter([], [], s=5, color="grey", label="correct")
        self.wrong_points = ax.scatter([], [], s=14, color="red", label="misclassified")
        draw_circle(ax)
        self.regions_message = ax.text(0.5, 0.5, "", ha="center", va="center", color="#c00", fontsize=12,
                                       transform=ax.transAxes)
        self.suptitle = self.figure.suptitle("", fontsize=11)
        curves = [self.lines[which, key] for which in ("current", "previous") for key in ("loss", "val_loss")]
        self.figure.legend(handles=[*curves, self.correct_points, self.wrong_points, ax.patches[-1]],
                           loc="lower center", ncol=7, fontsize=8, frameon=False)    # outside the axes: drawn once
        self._changing = [self.regions_image, ax.patches[-1], self.correct_points, self.wrong_points,
                          *self.lines.values(), *self.gradient_lines, self.gradient_legend, self.regions_message,
                          ax.title, self.suptitle]
        self._background, self._background_key = None, None

    # --- what the controls do ----------------------------------------------------------------
    def _draw_data(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self.x, self.y = build_data(self.n_train, generator=g)
        self.x_val, self.y_val = build_data(self.n_validation, generator=g)

    def _on_change(self, change) -> None:
        self.width.disabled = self.depth.value == 0     # no hidden layer: no width to set
        self.run()

    def _on_new_data(self, button=None) -> None:
        self.stop()
        self.seed += 1
        self._draw_data()
        self.run()

    def _on_stop(self, button=None) -> None:
        self.stop()

    def current_params(self) -> dict[str, object]:
        """The values the controls hold now, named as ``fit`` names them (plus ``init``,
        ``depth``, ``width`` and ``seed``)."""
        return dict(step_size=self.learning_rate.value, momentum=self.momentum.value,
                    batch_size=self.batch_size.value, epochs=self.epochs.value, decay=self.decay.value,
                    loss=self.loss.value, init=self.init.value, depth=self.depth.value, width=self.width.value,
                    seed=self.seed)

    # --- running -----------------------------------------------------------------------------
    def run(self, background: bool | None = None) -> None:
        """Retrain from the seeded initial weights with the current values, redrawing as it goes.
        A run still training is stopped first.

        Parameters:
            - ``background``: train in a thread and return at once (``wait()`` waits for it);
              ``None``: as the ``background`` option says (in a thread when the browser asked).
        """
        if self.closed:
            raise RuntimeError("Playground.run: this playground is closed; build a new Playground()")
        if background is None:
            background = self.background if self.background is not None else handling_a_browser_message()
        self.stop()
        if self.history.get("loss"):                     # drawn faded behind the new run
            self.previous, self.previous_params = self.history, self.params
        self.params = params = self.current_params()
        self.history = {k: [] for k in METRICS}
        self.gradients = []
        self.diverged, self.stopped_at, self.error = None, None, None
        self.update_times, self.draw_seconds = [], []
        self._next_draw = 0.0
        self.status.value = f"run {self.runs + 1}: training {params['epochs']} epochs..."
        self.model = build_model(params["depth"], params["width"], params["init"],
                                 generator=torch.Generator().manual_seed(self.seed))
        self._stop_requested.clear()
        if background:
            self.stop_button.disabled = False
            self._thread = threading.Thread(target=self._train_in_background, name="playground run", daemon=True)
            self._thread.start()
        else:
            self._train()

    def _train(self) -> None:
        """Fit the model with ``self.params``; then draw the end of the run and say how it ended."""
        p, started = self.params, time.perf_counter()
        with torch_threads(1):         # fit's matrices and the decision grid are too small for more
            try:
                self.model.fit(self.x, self.y, self.x_val, self.y_val, epochs=p["epochs"], step_size=p["step_size"],
                               batch_size=p["batch_size"], momentum=p["momentum"], decay=p["decay"],
                               loss=p["loss"], seed=self.seed, callback=self._on_epoch,
                               engine="fast")      # the built-in layers only: the same numbers, sooner
            except Stopped:
                self.stopped_at = len(self.history["loss"])
            except DivergenceError as error:
                self.diverged = divergence_message(error)
            self.runs += 1
            self._draw(final=True)
        self.status.value = self._final_status(time.perf_counter() - started)
        self.stop_button.disabled = True

    def _train_in_background(self) -> None:
        """``_train`` in the thread: an unexpected error is shown in the status line and kept in
        ``error`` (``raise playground.error`` shows its traceback), not lost in the thread."""
        try:
            self._train()
        except Exception as error:
            self.error = error
            self.status.value = f"<b style='color:#c00'>run {self.runs + 1} failed: {error!r}</b>"
            self.stop_button.disabled = True

    def _on_epoch(self, epoch: int, logs: dict[str, torch.Tensor]) -> None:
        """``fit``'s callback, after every epoch: record it, stop if asked, redraw if it is time."""
        for key, value in logs.items():
            self.history[key].append(value.item())
        sample = slice(0, GRADIENT_SAMPLES)
        self.gradients.append([layer.gradient_rms for layer in layer_statistics(self.model, self.x[sample], self.y[sample])])
        if self._stop_requested.is_set():
            raise Stopped
        if epoch == 0 or time.perf_counter() >= self._next_draw:
            self._draw(final=False)
            self.status.value = (f"run {self.runs + 1}: epoch {epoch + 1}/{self.params['epochs']}, "
                                 f"validation accuracy {self.history['val_accuracy'][-1]:.3f}")

    def stop(self) -> None:
        """Stop the run training in the background after its current epoch, keeping the weights
        trained so far, and wait until it has ended (its status line says at which epoch). Does
        nothing when no run trains in the background."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            self._stop_requested.set()
            thread.join()
            self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run training in the background (if any) has ended, at most ``timeout``
        seconds; return whether it has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
        return True

    @property
    def running(self) -> bool:
        """Whether a run is training in the background now."""
        return self._thread is not None and self._thread.is_alive()

    def _final_status(self, seconds: float) -> str:
        """How the run ended, in words: done, stopped at epoch k, or diverged."""
        if self.diverged:
            return f"run {self.runs} done: <b style='color:#c00'>{self.diverged}</b>"
        h, epochs = self.history, self.params["epochs"]
        how = (f"stopped at epoch {self.stopped_at} of {epochs} (its weights are kept)" if self.stopped_at
               else f"done: {epochs} epochs")
        note = f"; {LINEAR_MODEL_NOTE}" if self.params["depth"] == 0 else ""
        return (f"run {self.runs} {how} in {seconds:.2f} s; validation loss {h['val_loss'][-1]:.4f} "
                f"({loss_label(self.params['loss'])}), validation accuracy {h['val_accuracy'][-1]:.3f}{note}")

    # --- drawing -------------------------------------------------------------------------------
    def _draw(self, final: bool) -> None:
        """Redraw the figure into the Image: the changing artists get their new data and are
        painted over the saved background (``_blit``), then the picture becomes one PNG."""
        started = time.perf_counter()
        self._draw_curves()
        self._draw_regions(GRID_AT_THE_END if final else GRID_WHILE_TRAINING)
        p = self.params
        network = f"{p['depth']} x {p['width']} hidden" if p["depth"] else "no hidden layer (linear)"
        loss = next(name for name, value in LOSSES if value == p["loss"])
        self.suptitle.set_text(f"run {self.runs if final else self.runs + 1}: {network}, loss {loss}, learning "
                               f"rate {p['step_size']:.3g}, momentum {p['momentum']:g}, batch {p['batch_size']}, "
                               f"decay {p['decay']:g}, init {p['init']}, {self.n_train} training points")
        self.suptitle.set_color("#c00" if final and self.diverged else "black")
        self.image.value = self._blit()
        done = time.perf_counter()
        self.update_times.append(done)
        self.draw_seconds.append(done - started)
        if self.render_every > 0:   # drawing takes at most a quarter of the time
            self._next_draw = done + max(self.render_every, 3 * (done - started))

    def _blit(self) -> bytes:
        """The figure as PNG bytes. The unchanging part (axes, ticks, labels) is drawn only when
        the epoch axis or the loss label changed, and saved; every call restores it and paints
        the changing artists over it, in order."""
        key = (self.loss_ax.get_xlim(), self.loss_ax.get_ylabel())
        if key != self._background_key:
            visible = [artist.get_visible() for artist in self._changing]
            for artist in self._changing:
                artist.set_visible(False)
            self.canvas.draw()
            self._background, self._background_key = self.canvas.copy_from_bbox(self.figure.bbox), key
            for artist, was_visible in zip(self._changing, visible):
                artist.set_visible(was_visible)
        self.canvas.restore_region(self._background)
        for artist in self._changing:
            self.figure.draw_artist(artist)
        buffer = io.BytesIO()
        PIL.Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(),
                             "raw", "RGBA", 0, 1).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _draw_curves(self) -> None:
        """Loss and accuracy per epoch of this run, the previous run's faded behind (its loss
        only if it used the same loss)."""
        same_loss = self.previous_params.get("loss") == self.params["loss"]
        for (which, key), line in self.lines.items():
            values = (self.history if which == "current" else self.previous).get(key, [])
            if which == "previous" and key.endswith("loss") and not same_loss:
                values = []
            line.set_data(range(1, len(values) + 1), values)
        layers = len(self.gradients[0]) if self.gradients else 0
        entries = zip(self.gradient_lines, self.gradient_legend.legend_handles, self.gradient_legend.get_texts())
        for k, (line, handle, text) in enumerate(entries):     # one line per Linear layer of this run
            line.set_data(range(1, len(self.gradients) + 1), [epoch[k] for epoch in self.gradients] if k < layers else [])
            for artist in (line, handle, text):
                artist.set_visible(k < layers)
        longest = max(self.params["epochs"], len(self.previous.get("loss", [])))
        for ax in (self.loss_ax, self.accuracy_ax, self.gradient_ax):
            ax.set_xlim(0.5, longest + 0.5)
        self.loss_ax.set_ylabel(loss_label(self.params["loss"]))

    def _draw_regions(self, resolution: int) -> None:
        """The decision regions of the model as it is now (a ``resolution`` x ``resolution``
        grid) under the validation points, red where misclassified; or the divergence message."""
        diverged = bool(self.diverged)
        for artist in (self.regions_image, self.correct_points, self.wrong_points):
            artist.set_visible(not diverged)
        self.regions_message.set_text(self.diverged.replace(": ", ":\n").replace("; ", ";\n") if diverged else "")
        if diverged:
            self.regions_ax.set_title("")
            return
        self.regions_image.set_data(decision_grid(self.model, resolution)[2].numpy())
        wrong = self.model.predict(self.x_val) != self.y_val
        self.correct_points.set_offsets(self.x_val[~wrong].numpy())
        self.wrong_points.set_offsets(self.x_val[wrong].numpy())
        title = f"after epoch {len(self.history['loss'])}: {int(wrong.sum())} of {len(wrong)} misclassified"
        if self.params["depth"] == 0:
            title = "linear model: a straight boundary\n" + title
        self.regions_ax.set_title(title, fontsize=10)

    def close(self) -> None:
        """Stop a run training in the background, stop listening to the controls, close every
        widget and clear the figure.

        ipywidgets keeps each open widget in a registry, and the controls' observers hold this
        playground: until ``close()`` it stays in memory even when nothing else refers to it.
        After ``close()`` the controls do nothing and ``run()`` raises; ``history``,
        ``params`` and ``model`` can still be read. Closing twice does nothing.
        """
        if self.closed:
            return
        self.stop()
        self.closed = True
        for control in self.controls:
            control.unobserve(self._on_change, names="value")
        self.new_data.on_click(self._on_new_data, remove=True)
        self.stop_button.on_click(self._on_stop, remove=True)
        for widget in _descendants(self.widget):
            widget.close()
        self.figure.clear()
        self.lines.clear()

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


def measure_latency(repeats: int = 3, epochs: int = DEFAULT_EPOCHS, **playground_options) -> dict[str, float]:
    """Seconds from a learning-rate change (what releasing the slider sends) to the first
    redrawn figure and to the end of the run (final figure drawn), in this process, without a
    browser, and what one redraw costs. The playground is built and trained once first (not
    timed); then the learning rate moves one slider step up and back ``repeats`` times; the
    playground is closed at the end.

    Parameters:
        - ``repeats``: learning-rate changes timed; ``epochs``: the length of each run (the
          paper's 100 by default); ``playground_options``: to ``Playground``.

    Returns:
        The medians ``first_update_s``, ``full_run_s``, ``full_run_cpu_s`` (this process's CPU
        time for the run: less sensitive than the wall time to other programs sharing the
        machine; it counts every thread's) and ``draw_s`` (seconds per redraw, over every redraw
        of the timed runs), the number of redraws per run ``redraws`` (median), and the runs'
        ``epochs`` and ``n_train``.
    """
    check_int(repeats, "repeats", 1)
    playground = Playground(epochs=epochs, **playground_options)
    try:
        start_value = playground.learning_rate.value
        firsts, fulls, cpus, draws, redraws = [], [], [], [], []
        for i in range(repeats):
            value = start_value * 10 ** 0.25 if i % 2 == 0 else start_value
            cpu, started = time.process_time(), time.perf_counter()
            playground.learning_rate.value = value
            cpus.append(time.process_time() - cpu)
            firsts.append(playground.update_times[0] - started)
            fulls.append(playground.update_times[-1] - started)
            draws += playground.draw_seconds
            redraws.append(len(playground.draw_seconds))
    finally:
        playground.close()
    return {"first_update_s": statistics.median(firsts), "full_run_s": statistics.median(fulls),
            "full_run_cpu_s": statistics.median(cpus), "draw_s": statistics.median(draws),
            "redraws": statistics.median(redraws), "epochs": playground.epochs.value,
            "n_train": playground.n_train}
