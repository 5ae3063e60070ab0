"""`make benchmark`: how fast minidl trains the paper's network, against the alternatives.

Everything is measured in this one process, on the same data (``build_data(1000)`` with a
fixed seed) and from the same initial weights (``minidl.lab.compare.torch_twin`` copies them):

1. seconds per epoch of the paper's 2-25-25-25-2 network on 1000 samples, for minidl's
   ``fit`` with ``engine='plain'`` (Algorithm 1 over the layers' own methods) and
   ``engine='fast'`` (``minidl.engine``; also with its replay switched off), per-sample SGD
   and batch GD, the hand-fused floor (``floor.py``), the same network in torch.nn + autograd +
   torch.optim.SGD (``minidl.lab.compare.fit_torch``, the same loop as ``Sequential.fit``),
   scikit-learn's ``MLPClassifier`` and micrograd; the median of several repetitions, taken in
   turn (round-robin) so that a burst of load on the machine hits every contestant alike;
2. the 30-run Fig. 1 table with ``engine='fast'``: one run timed and multiplied by 30, against
   the 30 runs trained at once by ``minidl.runs.fit_runs``;
3. the playground's latency (``minidl.lab.playground.measure_latency``);
4. each speed target next to its measured figure, PASS or MISS.

The peers (scikit-learn, micrograd) come from requirements-benchmark.txt; a missing one is
reported as skipped. Usage: ``python benchmarks/run.py [--quick]``. A full run (without
``--quick``) also writes everything it prints to ``benchmarks/results.md``, with its date and
machine.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import random
import statistics
import sys
import time

import torch

from floor import FusedPaperNetwork          # benchmarks/floor.py, beside this script
import minidl.engine
from minidl import build_data, paper_model
from minidl.utils import one_hot, torch_threads
from minidl.lab.compare import fit_torch, torch_twin
from minidl.lab.playground import measure_latency
from minidl.lab.studies import max_weight_difference
from minidl.runs import fit_runs, make_run, paper_runs

SEED = 0
N_SAMPLES = 1000
STEP_SIZE = 0.01
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.md")


# --- the machine ------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """'1.0/1.1/1.7': the load averages over 1, 5 and 15 minutes (n/a where the OS has none)."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"machine: {cores} cores (nproc), CPU {cpu_model()}, load average {load_average()} (1/5/15 min)\n"
            f"python {platform.python_version()}, torch {torch.__version__}, "
            f"torch.get_num_threads() = {torch.get_num_threads()}")


# --- timing -----------------------------------------------------------------------------------

class Contestant:
    """One way of training: ``step()`` trains ``epochs_per_step`` epochs (or a fraction of one)."""

    def __init__(self, name: str, step, epochs_per_step: float, note: str = "") -> None:
        self.name, self.step, self.epochs_per_step, self.note = name, step, epochs_per_step, note
        self.seconds: list[float] = []          # seconds per epoch, one per repetition

    def time_once(self) -> None:
        started = time.perf_counter()
        self.step()
        self.seconds.append((time.perf_counter() - started) / self.epochs_per_step)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def round_robin(contestants: list[Contestant], repetitions: int, warm_up: bool = True) -> None:
    """One untimed warm-up step each, then ``repetitions`` timed steps each, taken in turn."""
    for c in contestants if warm_up else ():
        c.step()
    for _ in range(repetitions):
        for c in contestants:
            c.time_once()


# --- 1. seconds per epoch -----------------------------------------------------------------------

def copy_of(model):
    twin = paper_model()
    twin.load_state_dict(model.state_dict())
    return twin


def without_replay(fit):
    """``fit()`` with the fast engine's recording switched off (``minidl.engine.record``
    answering ``None``, as it does for a step it cannot replay): the engine then runs its
    per-sample step un-replayed, its Python for every sample. The same numbers, bit for bit."""
    asked = []

    def run():
        saved = minidl.engine.record
        minidl.engine.record = lambda step, x, t: asked.append(step)      # None: "cannot replay"
        try:
            fit()
        finally:
            minidl.engine.record = saved
        if not asked:      # fit no longer asks minidl.engine.record: this row would time the replay
            raise RuntimeError("without_replay: fit did not call minidl.engine.record")
    return run


def torch_contestant(net, x, y, threads: int) -> Contestant:
    """``fit_torch``, one epoch per step, on ``threads`` threads (minidl's fit uses one)."""
    shuffle = torch.Generator().manual_seed(SEED + 1)     # the same shuffles as minidl's

    def step():
        with torch_threads(threads):
            fit_torch(net, x, y, epochs=1, step_size=STEP_SIZE, generator=shuffle)
    plural = "s" if threads > 1 else ""
    default = " (torch's default)" if threads == torch.get_num_threads() else " (as minidl's fit trains)"
    return Contestant(f"torch.nn + autograd + optim.SGD, per-sample, {threads} thread{plural}", step, 1,
                      f"minidl.lab.compare.fit_torch{default}")


def fused_contestant(model, x, y) -> Contestant:
    """The same per-sample SGD hand-fused into one loop (benchmarks/floor.py): the floor.

    Before it is timed, a fresh copy trains one epoch beside torch.nn (same initial weights,
    same shuffle): the largest weight difference goes into the row's note, so the floor's
    speed is only shown next to evidence that it computes the same thing."""
    t = one_hot(y, 2)
    check, twin = FusedPaperNetwork(model), torch_twin(model)
    with torch_threads(1):
        check.epoch(x, t, STEP_SIZE, torch.Generator().manual_seed(SEED + 1))
        fit_torch(twin, x, y, epochs=1, step_size=STEP_SIZE, generator=torch.Generator().manual_seed(SEED + 1))
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    differ = max(max((w - l.weight.detach()).abs().max().item(), (b - l.bias.detach()).abs().max().item())
                 for (w, b), l in zip(check.weights(), linears))
    fused = FusedPaperNetwork(model)
    shuffle = torch.Generator().manual_seed(SEED + 1)

    def step():
        with torch_threads(1):
            fused.epoch(x, t, STEP_SIZE, shuffle)
    return Contestant("hand-fused eager loop, per-sample SGD (no framework)", step, 1,
                      "benchmarks/floor.py: inference_mode, 1-d mv/addmv into preallocated buffers, "
                      "biases as weight columns, one rank-1 update for all layers; no per-epoch metrics; "
                      f"after one epoch its weights differ from torch.nn's by at most {differ:.1e}")


def sklearn_contestant(x, y) -> Contestant | None:
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    classifier = MLPClassifier(hidden_layer_sizes=(25, 25, 25), solver="sgd", batch_size=1,
                               learning_rate_init=STEP_SIZE, momentum=0.0, alpha=0.0, random_state=SEED)
    xs, ys = x.numpy(), y.numpy()
    classifier.partial_fit(xs, ys, classes=[0, 1])     # builds the network: sklearn's own init
    return Contestant("scikit-learn MLPClassifier, per-sample SGD", lambda: classifier.partial_fit(xs, ys), 1,
                      "partial_fit = one shuffled epoch; plain SGD (momentum=0, alpha=0); "
                      "ReLU x3, 1 logistic output, log-loss")


def micrograd_contestant(model, x, y, samples: int) -> Contestant | None:
    try:
        from micrograd.nn import MLP
    except ImportError:
        return None
    random.seed(SEED)
    net = MLP(2, [25, 25, 25, 2])     # ReLU on every hidden layer: micrograd's Value has no tanh
    for layer, linear in zip(net.layers, model.linears):    # then minidl's initial weights
        for neuron, row, bias in zip(layer.neurons, linear.weight.tolist(), linear.bias.tolist()):
            for w, value in zip(neuron.w, row):
                w.data = value
            neuron.b.data = bias
    params = net.parameters()
    xs = x[:samples].tolist()
    ts = [[1.0 - label, float(label)] for label in y[:samples].tolist()]

    def step():
        for xi, ti in zip(xs, ts):
            net.zero_grad()
            loss = sum((out - t) ** 2 for out, t in zip(net(xi), ti))     # the paper's MSE, one sample
            loss.backward()
            for p in params:
                p.data -= STEP_SIZE * p.grad
    return Contestant("micrograd, per-sample SGD", step, samples / N_SAMPLES,
                      f"timed on {samples} samples and multiplied by {N_SAMPLES / samples:g} (extrapolated); "
                      "ReLU x3 (micrograd has no tanh)")


def minidl_contestant(name: str, model, x, y, engine: str, batch_size: int = 1, epochs: int = 1,
                      note: str = "", wrap=lambda fit: fit) -> Contestant:
    """``model.fit(engine=engine)``, ``epochs`` epochs per step, with the same shuffles as torch.nn's
    (``wrap`` may change how the fit runs: ``without_replay``)."""
    shuffle = torch.Generator().manual_seed(SEED + 1)
    fit = wrap(lambda: model.fit(x, y, epochs=epochs, step_size=STEP_SIZE, batch_size=batch_size,
                                 generator=shuffle, engine=engine))
    return Contestant(name, fit, epochs, note)


def per_epoch_table(quick: bool) -> dict[str, float | None]:
    """Print the seconds-per-epoch table; return the medians that the targets need."""
    x, y = build_data(N_SAMPLES, generator=torch.Generator().manual_seed(SEED))
    initial = paper_model(generator=torch.Generator().manual_seed(SEED))
    plain, fast, unreplayed = copy_of(initial), copy_of(initial), copy_of(initial)
    batch_epochs = 10
    minidl_plain = minidl_contestant("minidl fit, engine='plain' (per-sample SGD)", plain, x, y, "plain",
                                     note="the default: Algorithm 1 over the layers' forward, backward, param")
    minidl_fast = minidl_contestant("minidl fit, engine='fast' (per-sample SGD)", fast, x, y, "fast",
                                    note="minidl/engine: flat buffers, preallocated outputs, the step recorded once and replayed")
    minidl_unreplayed = minidl_contestant("minidl fit, engine='fast', replay off", unreplayed, x, y, "fast",
                                          note="minidl.engine.record switched off (minidl/engine/recording.py): "
                                               "the engine's step run in Python for every sample",
                                          wrap=without_replay)
    minidl_gd = [minidl_contestant(f"minidl fit, engine='{engine}', batch GD (batch {N_SAMPLES})", copy_of(initial),
                                   x, y, engine, batch_size=N_SAMPLES, epochs=batch_epochs,
                                   note=f"{batch_epochs} epochs per repetition")
                 for engine in ("plain", "fast")]
    minidl_rows = [minidl_plain, minidl_fast, minidl_unreplayed, *minidl_gd]
    thread_counts = sorted({torch.get_num_threads(), 1}, reverse=True)
    nets = [torch_twin(initial) for _ in thread_counts]
    torch_rows = [torch_contestant(net, x, y, threads) for net, threads in zip(nets, thread_counts)]
    sklearn = sklearn_contestant(x, y)
    fused = fused_contestant(initial, x, y)
    repetitions = 3 if quick else 7
    round_robin([c for c in [*minidl_rows, fused, *torch_rows, sklearn] if c is not None], repetitions)

    micrograd = micrograd_contestant(initial, x, y, samples=50 if quick else 100)
    micrograd_repetitions = 1 if quick else 3
    if micrograd is not None:
        round_robin([micrograd], micrograd_repetitions, warm_up=False)    # pure Python: nothing to warm

    print(f"## Seconds per epoch: the paper's network 2-25-25-25-2, {N_SAMPLES} samples, step size {STEP_SIZE}\n")
    print(f"Median of {repetitions} repetitions, taken in turn after one untimed warm-up each (micrograd: "
          f"{micrograd_repetitions}, no warm-up).\nminidl and torch.nn start from the same weights and see the "
          "same shuffles. Each of their epochs includes the loss\nand accuracy on the training set that fit and "
          "fit_torch compute after every epoch (one forward pass).\n")
    print("| trainer | s / epoch | ratio to minidl fit, engine='plain' (higher = slower) | notes |")
    print("| --- | ---: | ---: | --- |")
    reference = minidl_plain.median
    rows = [("", c) for c in (*minidl_rows, fused, *torch_rows)] + [
        ("scikit-learn MLPClassifier, per-sample SGD", sklearn), ("micrograd, per-sample SGD", micrograd)]
    for name, c in rows:
        if c is None:
            print(f"| {name} | skipped (not installed) | | |")
        else:
            print(f"| {c.name} | {c.median:.4g} | {c.median / reference:.3g} | {c.note} |")
    same = max_weight_difference(plain, nets[0])
    engines = max((a - b).abs().max().item() for m in (fast, unreplayed)
                  for a, b in zip(plain.state_dict().values(), m.state_dict().values()))
    print(f"\ncheck: after these {1 + repetitions} epochs, minidl per-sample (engine='plain') and torch.nn "
          f"({torch_rows[0].name.split(', ')[-1]}) differ by at most {same:.1e} in any weight (same trajectory); "
          f"engine='fast', with and without replay, differs from engine='plain' by {engines:.1e} (0 = bit for bit)\n")
    return {"plain": reference, "fast": minidl_fast.median, "torch": min(c.median for c in torch_rows),
            "fused": fused.median, "sklearn": None if sklearn is None else sklearn.median}


# --- 2. the 30-run Fig. 1 table ------------------------------------------------------------------

def thirty_runs(quick: bool, runs: int = 30, epochs: int = 100) -> float:
    """Print one run x 30 against 30 runs at once, both with ``engine='fast'``; return the
    seconds of the latter (median).

    Both are timed ``repetitions`` times, in turn: every step of the runs path touches the
    weights and gradients of 30 networks (about 0.2 MB each), more than the others here, and
    other programs on a shared machine slow it down more, in spells of minutes."""
    timed_epochs = 10 if quick else epochs
    scale = epochs / timed_epochs
    repetitions = 1 if quick else 3
    ones, at_onces, cpus = [], [], []
    for _ in range(repetitions):
        started = time.perf_counter()
        g, data, model = make_run(SEED, paper_model)
        model.fit(*data, epochs=timed_epochs, generator=g, engine="fast")
        ones.append(time.perf_counter() - started)
        started, cpu_started = time.perf_counter(), time.thread_time()
        generators, data, stacked, _ = paper_runs(list(range(SEED, SEED + runs)), paper_model)
        fit_runs(stacked, *data[:4], epochs=timed_epochs, generator=generators, engine="fast")
        at_onces.append(time.perf_counter() - started)
        cpus.append(time.thread_time() - cpu_started)
    one, at_once, at_once_cpu = (statistics.median(v) for v in (ones, at_onces, cpus))

    print(f"## The Fig. 1 table: {runs} runs x {epochs} epochs of per-sample SGD, {N_SAMPLES} training "
          f"+ {N_SAMPLES} validation samples each, engine='fast'\n")
    if quick:
        print(f"--quick: {timed_epochs} epochs timed, multiplied by {scale:g} to {epochs} epochs (extrapolated)\n")
    print(f"Median of {repetitions} repetition{'s' if repetitions > 1 else ''}, taken in turn; all of them: "
          f"one run {', '.join(f'{v * scale:.1f}' for v in ones)} s, all at once "
          f"{', '.join(f'{v * scale:.1f}' for v in at_onces)} s.\n")
    print("| how | seconds |")
    print("| --- | ---: |")
    print(f"| one after another: 1 run timed ({one * scale:.1f} s), x {runs} (extrapolated) | {one * scale * runs:.1f} |")
    print(f"| all at once: minidl.runs.fit_runs, R = {runs}, measured{' (x %g)' % scale if quick else ''} | {at_once * scale:.1f} |")
    print(f"| all at once, CPU time of this thread (what a quiet machine would take) | {at_once_cpu * scale:.1f} |")
    print(f"\nspeed-up of the runs path: {one * runs / at_once:.1f}x\n")
    return at_once * scale


# --- 3. the playground --------------------------------------------------------------------------

def playground_latency() -> dict[str, float]:
    result = measure_latency()      # the default run: 100 epochs, as the target says
    print("## Playground latency (a learning-rate change, in this process, no browser)\n")
    print(f"first redrawn figure after {result['first_update_s']:.2f} s; the default run "
          f"({result['epochs']} epochs, {result['n_train']} samples) done after {result['full_run_s']:.2f} s "
          f"({result['full_run_cpu_s']:.2f} s CPU), of which drawing {result['redraws']:.0f} redraws of "
          f"{result['draw_s'] * 1000:.0f} ms each (medians, minidl.lab.playground.measure_latency)\n")
    return result


# --- 4. the targets ------------------------------------------------------------------------------

def targets(epoch: dict, table_seconds: float, latency: dict, quick: bool) -> None:
    """The speed targets, each next to its measured figure, PASS or MISS."""
    torch_row = "torch.nn + autograd + optim.SGD (faster torch row)"

    def faster(name: str, seconds: float, reference: float, goal: float) -> tuple:
        """``name`` at least ``goal`` times faster than the row that took ``reference`` s per epoch."""
        ratio = reference / seconds
        if goal == 1:
            return name, "faster (> 1x)", f"{ratio:.1f}x", ratio > 1
        return name, f">= {goal:g}x faster", f"{ratio:.1f}x", ratio >= goal

    rows = [faster(f"minidl fit, engine='plain', per sample, vs {torch_row}", epoch["plain"], epoch["torch"], 3)]
    if epoch["sklearn"] is None:
        rows.append(("minidl fit, engine='plain', vs scikit-learn per-sample", "faster", "skipped", None))
    else:
        rows.append(faster("minidl fit, engine='plain', vs scikit-learn per-sample",
                           epoch["plain"], epoch["sklearn"], 1))
    rows += [faster(f"minidl fit, engine='fast', per sample, vs {torch_row}", epoch["fast"], epoch["torch"], 10),
             faster(f"floor (benchmarks/floor.py) vs {torch_row}", epoch["fused"], epoch["torch"], 15),
             ("30-run Fig. 1 table, fit_runs(engine='fast')", "<= 10 s",
              f"{table_seconds:.1f} s" + (" (extrapolated)" if quick else ""), table_seconds <= 10),
             ("playground: 100-epoch default run complete", "<= 5 s",
              f"{latency['full_run_s']:.2f} s, drawing {latency['redraws'] * latency['draw_s']:.2f} s of it",
              latency["full_run_s"] <= 5),
             ("playground: first redraw after a slider change", "<= 0.3 s",
              f"{latency['first_update_s']:.2f} s (one redraw: {latency['draw_s']:.3f} s)",
              latency["first_update_s"] <= 0.3),
             ("all seven notebooks under nbval, 2 cores", "<= 180 s", "not measured by this script", None)]
    print("## Targets\n")
    print("Speed-ups are against the faster of the torch.nn rows above (or scikit-learn's row), from the same "
          "process.\nThe playground trains as minidl/lab/playground.py calls fit.\n")
    print("| target | goal | measured | |")
    print("| --- | --- | ---: | --- |")
    for name, goal, measured, ok in rows:
        print(f"| {name} | {goal} | {measured} | {'n/a' if ok is None else 'PASS' if ok else 'MISS'} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions, and 10 epochs instead of 100 for the 30-run table (extrapolated)")
    args = parser.parse_args(argv)
    if args.quick:
        report(args.quick)
        return
    printed = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, printed)):
        report(args.quick)
    with open(RESULTS, "w") as f:
        f.write(printed.getvalue())
    print(f"(written to {os.path.relpath(RESULTS)})")


class Tee(io.TextIOBase):
    """A stream that writes to several streams (the terminal and the results file)."""

    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def report(quick: bool) -> None:
    print(f"# minidl benchmark: `{' '.join(['python', 'benchmarks/run.py', *sys.argv[1:]])}`, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(machine() + "\n")
    epoch = per_epoch_table(quick)
    table_seconds = thirty_runs(quick)
    latency = playground_latency()
    targets(epoch, table_seconds, latency, quick)
    print(f"\nload average at the end: {load_average()} (1/5/15 min)")


if __name__ == "__main__":
    main()
