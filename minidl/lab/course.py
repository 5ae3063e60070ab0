"""The course, built from the lab notebooks: every exercise exists once, in ``notebooks/``.

``python -m minidl.lab.course [COURSE]`` (run by ``make student``) writes two things:

- **the graded assignments**, ``COURSE/source/<assignment>/<name>.ipynb``, for nbgrader: the
  header ``COURSE/headers/<assignment>.md``, then, in order, the cells of one lab notebook that
  carry the tag ``assignment`` (the exercise texts, the cells to complete, whose solutions sit
  between nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers, and the locked
  cells that check them, hidden tests included). ``nbgrader generate_assignment`` then makes
  the student versions in ``COURSE/release/``;
- **the student edition of the lab**, ``COURSE/release/lab/``: every notebook of
  ``notebooks/``, with nbgrader's own preprocessors applied (solutions replaced by
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, hidden tests removed, outputs
  cleared). Its checks fail until the exercises are done.

The teacher's notebooks in ``notebooks/`` keep the solutions: nbval and ``make figures`` run
them as they are. Nothing here is committed: ``COURSE/source/`` is rebuilt whenever the lab
notebooks change (``make student``, ``make grade``, and the course tests call ``build``).
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

from .experiments import REPO_ROOT
from .reproduce import find_notebooks

NOTEBOOKS = REPO_ROOT / "notebooks"
COURSE = REPO_ROOT / "course"
TAG = "assignment"

# assignment -> (the lab notebook its cells come from, the name of the assignment's notebook)
ASSIGNMENTS = {
    "01_layers": ("02_backpropagation.ipynb", "layers.ipynb"),
    "02_training": ("04_training.ipynb", "training.ipynb"),
    "03_momentum_and_batches": ("06_momentum_and_batches.ipynb", "momentum_and_batches.ipynb"),
}

HOW_IT_WORKS = """**How this assignment works.** Where a code cell says `# YOUR CODE HERE` and
`raise NotImplementedError()`, replace those two lines with your code. Each cell of tests after
them checks one function and is worth the points it says; the tests you see are the ones you can
run while working, and grading runs more of the same kind (other shapes, other seeds). A test
cell that runs without an error passes. Before you hand in: *Kernel → Restart & Run All*, and
read every message: a failing test names the equation, the shape, the largest error and where."""


def _without_tag(cell: nbformat.NotebookNode) -> None:
    """Drop the tag ``assignment`` from ``cell`` (and its empty tag list): it is the lab's marker."""
    tags = cell.get("metadata", {}).get("tags", [])
    if TAG in tags:
        tags.remove(TAG)
        if not tags:
            del cell.metadata["tags"]


def exercise_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells of a lab notebook tagged ``assignment``, in order, as fresh copies without
    outputs or slide metadata (their ids kept: nbgrader and the gradebook name cells by their grade ids)."""
    cells = []
    for cell in notebook.cells:
        if TAG in cell.get("metadata", {}).get("tags", []):
            cell = copy.deepcopy(cell)
            _without_tag(cell)
            cell.metadata.pop("slideshow", None)     # the lab's slides (minidl.lab.slides), not the assignment's
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            cells.append(cell)
    return cells


def assignment_notebook(assignment: str, *, notebooks: Path = NOTEBOOKS, course: Path = COURSE) -> nbformat.NotebookNode:
    """The source notebook of ``assignment``: its header, then its lab notebook's exercise cells."""
    lab_name, _ = ASSIGNMENTS[assignment]
    lab = nbformat.read(notebooks / lab_name, as_version=4)
    header = (course / "headers" / f"{assignment}.md").read_text().strip() + "\n\n" + HOW_IT_WORKS
    cells = exercise_cells(lab)
    if not any(c.metadata.get("nbgrader", {}).get("solution") for c in cells):
        raise ValueError(f"{lab_name}: no cell tagged {TAG!r} holds an exercise (nbgrader solution cell)")
    header_cell = nbformat.v4.new_markdown_cell(header)
    header_cell.id = f"{assignment}-header"
    notebook = nbformat.v4.new_notebook(cells=[header_cell] + cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    return notebook


def _write_if_changed(notebook: nbformat.NotebookNode, path: Path) -> bool:
    """Write ``notebook`` to ``path`` unless the file already holds exactly it (so that a
    rebuild leaves files, their times and what nbgrader recorded of them, alone)."""
    text = nbformat.writes(notebook) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def build(course: Path = COURSE, *, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write ``course/source/<assignment>/<name>.ipynb`` for every assignment; returns the paths."""
    course = Path(course)
    paths = []
    for assignment, (_, name) in ASSIGNMENTS.items():
        path = course / "source" / assignment / name
        _write_if_changed(assignment_notebook(assignment, notebooks=notebooks, course=course), path)
        paths.append(path)
    return paths


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student edition of a lab notebook, by nbgrader's own preprocessors: every solution
    region replaced by nbgrader's stub, hidden tests removed, outputs cleared."""
    notebook = copy.deepcopy(notebook)
    resources = {"language": "python"}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    for cell in notebook.cells:
        _without_tag(cell)
    return notebook


def build_student_lab(out: Path | None = None, *, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write the student edition of every lab notebook into ``out`` (``course/release/lab``)."""
    out = Path(out) if out is not None else COURSE / "release" / "lab"
    paths = []
    for path in find_notebooks(notebooks):
        target = out / path.name
        _write_if_changed(student_notebook(nbformat.read(path, as_version=4)), target)
        paths.append(target)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("course", nargs="?", default=str(COURSE), help="the course folder (default: course/)")
    args = parser.parse_args(argv)
    course = Path(args.course)
    for path in build(course):
        print("assignment source:", path.relative_to(course))
    lab = build_student_lab(course / "release" / "lab")
    print(f"student edition of the lab: {len(lab)} notebooks in {(course / 'release' / 'lab').relative_to(course)}")


if __name__ == "__main__":
    main()
