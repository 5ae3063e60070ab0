"""The two-hour lab's core path: how long it takes, counted from the notebooks themselves.

Each core notebook (``CORE_NOTEBOOKS``) is read from the top down to its first level-1 markdown
heading ``# Appendix`` (a markdown cell whose text starts with ``# Appendix: ...``); that part is
its **core path**, and everything after it is the appendix (the reproduction audit, "for the
curious", the verdict cells). A notebook without such a heading is core in full; notebooks 05
and 06 are appendix entirely. A part's minutes are

- reading: the words of its core markdown cells (``len(text.split())``) at 120 words a minute;
- exercises: 8 minutes for each core code cell that nbgrader marks as a solution
  (``metadata.nbgrader.solution`` true);
- run time: measured, by executing only the core cells (a copy of the notebook cut at the
  appendix heading, in memory) in a fresh kernel in ``notebooks/``, and adding up the time each
  cell took (nbclient's ``record_timing``). So the measurement also shows that the core path runs
  without its appendix. The repository's notebook is not written; cells that save a figure do
  save it, as ``make figures`` does.

    python -m minidl.lab.corepath            # the table of the parts and the total;
                                             # exit status 1 if the total is over 120 minutes
    python -m minidl.lab.corepath --markdown # and the README's table
"""
from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .reproduce import NOTEBOOKS, CurrentEnvironmentKernel, find_notebooks

CORE_NOTEBOOKS = ("01", "02", "03", "04", "07")
WORDS_PER_MINUTE = 120
MINUTES_PER_EXERCISE = 8
BUDGET_MINUTES = 120
APPENDIX_HEADING = "# Appendix"


def is_appendix_heading(cell) -> bool:
    """A markdown cell whose text starts with the level-1 heading ``# Appendix``."""
    first = cell.source.lstrip().split("\n", 1)[0]
    return cell.cell_type == "markdown" and (first == APPENDIX_HEADING or first.startswith(APPENDIX_HEADING + ":"))


def core_cells(notebook) -> list:
    """The cells of ``notebook`` (an ``nbformat`` notebook) before its first ``# Appendix``
    heading; all of them if it has none."""
    for index, cell in enumerate(notebook.cells):
        if is_appendix_heading(cell):
            return notebook.cells[:index]
    return list(notebook.cells)


def core_words(notebook) -> int:
    """The words of the core markdown cells: ``len(text.split())`` of each."""
    return sum(len(cell.source.split()) for cell in core_cells(notebook) if cell.cell_type == "markdown")


def core_exercises(notebook) -> int:
    """The core code cells that nbgrader marks as a solution (``metadata.nbgrader.solution``)."""
    return sum(1 for cell in core_cells(notebook)
               if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution") is True)


def cell_seconds(cell) -> float:
    """How long an executed cell took, from the timestamps nbclient records
    (``record_timing``): from the kernel going busy to it going idle."""
    timing = cell.metadata["execution"]
    busy, idle = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                  for key in ("iopub.status.busy", "iopub.status.idle"))
    return (idle - busy).total_seconds()


def run_core(path: str | Path, workdir: str | Path | None = None, timeout: int = 1200) -> list[float]:
    """Execute only the core cells of the notebook at ``path`` (a copy in memory, the file is
    not written) in a fresh kernel of this interpreter, in ``workdir`` (default: the notebook's
    folder). Returns the seconds each core code cell took, in order. Raises
    ``CellExecutionError`` if a core cell fails (for instance because it needs an appendix cell)."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    core = copy.deepcopy(notebook)
    core.cells = copy.deepcopy(core_cells(notebook))
    client = NotebookClient(core, kernel_manager_class=CurrentEnvironmentKernel, kernel_name="python3",
                            timeout=timeout, record_timing=True,
                            resources={"metadata": {"path": str(workdir or path.parent)}})
    client.execute()
    return [cell_seconds(cell) for cell in core.cells if cell.cell_type == "code"]


@dataclass
class Part:
    """One notebook's core path: its words, its exercises and its measured cell times."""

    name: str
    words: int
    exercises: int
    cell_seconds: list[float] = field(default_factory=list)

    @property
    def reading_minutes(self) -> float:
        return self.words / WORDS_PER_MINUTE

    @property
    def exercise_minutes(self) -> float:
        return self.exercises * MINUTES_PER_EXERCISE

    @property
    def run_minutes(self) -> float:
        return sum(self.cell_seconds) / 60

    @property
    def total_minutes(self) -> float:
        return self.reading_minutes + self.exercise_minutes + self.run_minutes


def measure(notebooks: str | Path = NOTEBOOKS, only: tuple[str, ...] = CORE_NOTEBOOKS,
            run: bool = True) -> list[Part]:
    """A ``Part`` for each core notebook in ``notebooks`` (in order); with ``run=False`` the
    core cells are not executed and the run times are left empty (zero)."""
    parts = []
    for path in find_notebooks(notebooks, list(only)):
        notebook = nbformat.read(path, as_version=4)
        parts.append(Part(path.stem, core_words(notebook), core_exercises(notebook),
                          run_core(path) if run else []))
    return parts


def total_minutes(parts: list[Part]) -> float:
    return sum(part.total_minutes for part in parts)


def table(parts: list[Part]) -> str:
    """The parts as a plain-text table (minutes with one decimal, the run time in seconds too),
    and their sum."""
    def row(name, words, reading, exercises, run, total):
        return (f"{name:20s} {words:6d} {reading:8.1f} {exercises:>12s} {run:9.1f} {60 * run:6.0f} {total:7.1f}")

    head = f"{'part':20s} {'words':>6s} {'reading':>8s} {'exercises':>12s} {'run time':>9s} {'(s)':>6s} {'total':>7s}"
    lines = [head, "-" * len(head)]
    for p in parts:
        lines.append(row(p.name, p.words, p.reading_minutes, f"{p.exercises} x {MINUTES_PER_EXERCISE} = "
                         f"{p.exercise_minutes:.0f}", p.run_minutes, p.total_minutes))
    lines.append("-" * len(head))
    lines.append(row("core path", sum(p.words for p in parts), sum(p.reading_minutes for p in parts),
                     f"{sum(p.exercise_minutes for p in parts):.0f}", sum(p.run_minutes for p in parts),
                     total_minutes(parts)))
    return "\n".join(lines)


def readme_table(parts: list[Part]) -> str:
    """The same table in Markdown for the README, in whole minutes (run time in seconds): its
    numbers are what ``tests/test_corepath.py`` compares with a fresh measurement."""
    lines = ["| part | reading (min) | exercises (min) | run time (s) | total (min) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for p in parts:
        lines.append(f"| [{p.name}](notebooks/{p.name}.ipynb) | {p.reading_minutes:.0f} | "
                     f"{p.exercise_minutes:.0f} | {60 * p.run_minutes:.0f} | {p.total_minutes:.0f} |")
    lines.append(f"| **core path** | {sum(p.reading_minutes for p in parts):.0f} | "
                 f"{sum(p.exercise_minutes for p in parts):.0f} | {sum(60 * p.run_minutes for p in parts):.0f} | "
                 f"**{total_minutes(parts):.0f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table of the core path (minutes per part and in all); exit status 1 if the
    total is over ``BUDGET_MINUTES`` or a core path does not run."""
    parser = argparse.ArgumentParser(prog="python -m minidl.lab.corepath", description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default=str(NOTEBOOKS), help="folder of the notebooks (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true", help="also print the README's table (Markdown)")
    args = parser.parse_args(argv)
    try:
        parts = measure(args.notebooks)
    except CellExecutionError as error:
        print(f"error: a core path does not run on its own:\n{error}", file=sys.stderr)
        return 1
    print(f"The core path (reading at {WORDS_PER_MINUTE} words a minute, {MINUTES_PER_EXERCISE} minutes "
          f"per exercise, run time measured), in minutes:\n")
    print(table(parts))
    total = total_minutes(parts)
    over = total > BUDGET_MINUTES
    print(f"\n{total:.1f} minutes: {'OVER' if over else 'within'} the budget of {BUDGET_MINUTES}.")
    if args.markdown:
        print("\n" + readme_table(parts))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
