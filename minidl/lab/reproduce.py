"""The main job: ``python -m minidl.lab.reproduce`` executes every notebook and regenerates figures/.

Every ``notebooks/[0-9][0-9]_*.ipynb`` is executed in order, in place (the outputs are saved
in the notebook), headless, in a kernel running this Python (``sys.executable``, so the
current environment) with ``notebooks/`` as its working directory. The notebooks write the
figures; this command prints each notebook's name and time, then the files of ``figures/``
written during the run. If a notebook fails, it stops with exit status 1 and names the
notebook and the failing cell; the failed notebook is not overwritten.

    python -m minidl.lab.reproduce                 # every notebook
    python -m minidl.lab.reproduce 04 05           # only the notebooks whose names start so
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import ipykernel.kernelspec
import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from traitlets import default

from .experiments import FIGURES, REPO_ROOT, written_since

NOTEBOOKS = REPO_ROOT / "notebooks"


def find_notebooks(directory: str | Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` of ``directory`` in order; with ``only``, those
    whose file name starts with one of its prefixes (``'04'`` or ``'04_training'``)."""
    paths = sorted(Path(directory).glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in only)]
    return paths


class CurrentEnvironment(KernelSpecManager):
    """Kernel specs that always give ipykernel on this interpreter (``sys.executable``), as
    nbval's ``--nbval-current-env`` does, whatever kernels are installed elsewhere."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())


class CurrentEnvironmentKernel(AsyncKernelManager):
    """The kernel manager nbclient creates (and shuts down after each notebook), with the
    kernel specs of ``CurrentEnvironment``. It talks to the kernel over Unix sockets (IPC), not
    TCP: nothing leaves the machine, and ipykernel does not warn, once per notebook, that its TCP
    traffic is unencrypted."""

    @default("kernel_spec_manager")
    def _current_environment(self) -> KernelSpecManager:
        return CurrentEnvironment()

    @default("transport")
    def _unix_sockets(self) -> str:
        return "ipc"

    @default("ip")
    def _socket_path(self) -> str:
        # the sockets' path prefix; absolute, since the kernel runs in the notebook's folder
        return os.path.join(tempfile.mkdtemp(prefix="minidl-kernel-"), "kernel")


class Heartbeat:
    """While a notebook executes, print which cell is running every ``every`` seconds.

    ``start_cell`` is called by nbclient's ``on_cell_start`` hook; a background thread prints
    ``[04_training.ipynb] cell 12/31 running for 20 s: run_fig1(...)`` while a cell takes long,
    so that a long ``make figures`` never sits silent for more than ``every`` seconds.
    """

    def __init__(self, name: str, cells: int, every: float = 10.0,
                 print_fn: Callable[[str], None] = lambda line: print(line, flush=True)) -> None:
        self.name, self.cells, self.every, self.print_fn = name, cells, every, print_fn
        self._lock = threading.Lock()
        self._cell: tuple[int, str, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def start_cell(self, cell, cell_index: int, **kwargs) -> None:
        first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
        with self._lock:       # nbclient calls this for markdown cells too: they do not run
            self._cell = (cell_index, first[:60], time.perf_counter()) if cell.cell_type == "code" else None

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                current = self._cell
            if current is not None:
                index, first, started = current
                self.print_fn(f"    [{self.name}] cell {index + 1}/{self.cells} running for "
                              f"{time.perf_counter() - started:.0f} s: {first}")


def strip_widget_state(nb) -> None:
    """Remove what ipywidgets saves into an executed notebook: the widget state in the metadata
    and the widget views in the outputs (their text/plain stays). Both carry random ids, so that
    every execution would rewrite them; GitHub shows no widgets anyway, and a notebook that
    wants to show its widget saves a picture of it."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


class NotebookError(RuntimeError):
    """A notebook raised an error while executing."""


def execute_notebook(path: str | Path, timeout: int = 1200, heartbeat: float = 10.0) -> float:
    """Execute the notebook at ``path`` in place (outputs saved, widget state stripped) in a
    kernel started in the notebook's folder (``python -m ipykernel_launcher`` of this interpreter).

    Parameters:
        - ``timeout``: seconds allowed per cell.
        - ``heartbeat``: print the running cell every so many seconds (``Heartbeat``).

    Returns:
        The seconds taken. Raises ``NotebookError`` naming the failing cell; the file is then
        left as it was.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    beat = Heartbeat(path.name, len(nb.cells), heartbeat)
    client = NotebookClient(nb, kernel_manager_class=CurrentEnvironmentKernel, kernel_name="python3",
                            timeout=timeout, record_timing=False, on_cell_start=beat.start_cell,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        with beat:
            client.execute()
    except CellExecutionError as error:
        raise NotebookError(f"{path.name} failed:\n{error}") from error
    except Exception as error:      # the kernel died, did not start, or a cell timed out
        raise NotebookError(f"{path.name} could not be executed: {type(error).__name__}: {error}") from error
    seconds = time.perf_counter() - start
    strip_widget_state(nb)
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})   # how stdout was chunked depends on timing
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """The command line (``argv``, default ``sys.argv[1:]``): run the notebooks, print each one's
    time and the files written to the figures folder. Returns the exit status (0, or 1 on a
    failure)."""
    parser = argparse.ArgumentParser(prog="python -m minidl.lab.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="run only the notebooks whose names start with these (e.g. 04)")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS), help="folder of the notebooks (default: %(default)s)")
    parser.add_argument("--figures", default=str(FIGURES), help="folder the notebooks write to (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed per cell (default: %(default)s)")
    args = parser.parse_args(argv)

    paths = find_notebooks(args.notebooks, args.only)
    if not paths:
        print(f"error: no notebook NN_*.ipynb in {args.notebooks}"
              + (f" starting with {args.only}" if args.only else ""), file=sys.stderr)
        return 1
    print(f"Executing {len(paths)} notebooks in {args.notebooks} with {sys.executable}", flush=True)
    wall, start = time.time(), time.perf_counter()
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path.name} ...", flush=True)
        try:
            seconds = execute_notebook(path, args.timeout)
        except NotebookError as error:
            print(f"error: {error}", file=sys.stderr)
            print(f"FAILED: {path.name} (notebooks after it were not run)", file=sys.stderr)
            return 1
        print(f"[{i}/{len(paths)}] {path.name} done in {seconds:.1f} s", flush=True)
    files = written_since(wall, args.figures)
    print(f"All {len(paths)} notebooks executed in {time.perf_counter() - start:.1f} s. "
          f"{len(files)} files written to {args.figures}:")
    for f in files:
        print(f"  {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
