"""The student edition of the lab and the course built from it (``minidl.lab.course``).

- In the student edition (nbgrader's preprocessors on the lab notebooks), every exercise's check
  fails until the exercise is filled in; with the teacher's solutions, every check passes.
- The exercises cover eqs. (1)-(5) (notebook 02) and Algorithm 1 (notebook 04).
- Each exercise exists once: no solution's code appears in any other file of the repository,
  and ``course/source/`` (built, not committed) holds exactly the lab's tagged cells.
"""
from __future__ import annotations

import pathlib
import subprocess

import nbformat
import pytest
import torch

from minidl.lab import course

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAB = {name: nbformat.read(ROOT / "notebooks" / name, as_version=4) for name, _ in course.ASSIGNMENTS.values()}


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercise_groups(notebook):
    """(the cells to run before any check: locked setup and solution cells, in order), and for each
    graded check cell, the cells before it: the program a check runs in."""
    runnable = []
    for cell in notebook.cells:
        meta = nbgrader(cell)
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("grade"):
            yield meta["grade_id"], list(runnable), cell
        else:
            runnable.append(cell)


def run_check(setup_cells, check_cell) -> Exception | None:
    """Run the setup and solution cells, then the check, in a fresh namespace; the exception the
    check raised, or None. (An error in a setup cell is reported as it is: a test bug.)"""
    namespace = {"__name__": "__main__"}
    for cell in setup_cells:
        exec(compile(cell.source, "<cell>", "exec"), namespace)
    try:
        exec(compile(check_cell.source, "<check>", "exec"), namespace)
    except Exception as error:      # noqa: BLE001 (what the check raised is what we report)
        return error
    return None


# the training check trains the paper's network for 35 epochs (seconds): run it only where asked
QUICK = {"test_training_accuracy"}


@pytest.mark.parametrize("name", sorted(LAB))
def test_the_teachers_solutions_pass_every_check(name):
    torch.manual_seed(0)
    for grade_id, setup, check in exercise_groups(LAB[name]):
        error = run_check(setup, check)
        assert error is None, f"{name}, {grade_id}: {type(error).__name__}: {error}"


@pytest.mark.parametrize("name", sorted(LAB))
def test_every_check_of_the_student_edition_fails_until_its_exercise_is_done(name):
    student = course.student_notebook(LAB[name])
    assert "### BEGIN SOLUTION" not in nbformat.writes(student)
    checks = 0
    for grade_id, setup, check in exercise_groups(student):
        if grade_id in QUICK:
            continue
        error = run_check(setup, check)
        assert isinstance(error, NotImplementedError), \
            f"{name}, {grade_id}: with the exercises blank the check should stop at the stub, got {error!r}"
        checks += 1
    assert checks >= 2


def test_the_lab_has_exercises_for_eqs_1_to_5_and_algorithm_1():
    def solutions(name):
        return "\n".join(c.source for c in LAB[name].cells if nbgrader(c).get("solution"))
    layers, training = solutions("02_backpropagation.ipynb"), solutions("04_training.ipynb")
    for what in ("class Linear(Module)", "def backward", "class ReLU(Module)", "class Tanh(Module)",
                 "def compute_grad"):
        assert what in layers, what
    for what in ("def gradient_step(", "def train("):
        assert what in training, what
    text = nbformat.writes(LAB["02_backpropagation.ipynb"])
    for equation in ("(1)", "(2)", "(3)", "(4)", "(5)"):
        assert f"eq. {equation}" in text or f"eqs. {equation}" in text


def solution_blocks(notebook) -> list[list[str]]:
    blocks = []
    for cell in notebook.cells:
        for part in cell.source.split("### BEGIN SOLUTION")[1:]:
            lines = [line.strip() for line in part.split("### END SOLUTION")[0].splitlines() if line.strip()]
            blocks.append(lines)
    return blocks


def test_no_solution_appears_in_a_second_file():
    """Each solution's code lives in one lab notebook only: no other tracked file holds two of its
    lines in a row (or its single line, if it has one)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = {}
    for path in tracked:
        if path.endswith((".py", ".ipynb", ".md", ".txt", ".cfg", ".toml", ".yml")):
            text = (ROOT / path).read_text(errors="replace")
            if path.endswith(".ipynb"):
                text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            texts[path] = "\n".join(line.strip() for line in text.splitlines())
    found = []
    for name, notebook in LAB.items():
        for block in solution_blocks(notebook):
            windows = ["\n".join(block[k:k + 2]) for k in range(len(block) - 1)] or block
            for path, text in texts.items():
                if path == f"notebooks/{name}":
                    continue
                found += [(name, path, window) for window in windows if window in text]
    assert not found, "solution code in a second file:\n" + "\n".join(f"{n} -> {p}: {w!r}" for n, p, w in found)


def test_course_source_is_the_labs_tagged_cells(tmp_path):
    (tmp_path / "headers").mkdir()
    for header in (ROOT / "course" / "headers").iterdir():
        (tmp_path / "headers" / header.name).write_text(header.read_text())
    for path in course.build(tmp_path):
        built = nbformat.read(path, as_version=4)
        assignment = path.parent.name
        lab = LAB[course.ASSIGNMENTS[assignment][0]]
        tagged = [c for c in lab.cells if "assignment" in c.metadata.get("tags", [])]
        assert [c.source for c in built.cells[1:]] == [c.source for c in tagged]
        assert built.cells[0].source.startswith("# Assignment")
        # the header's points column adds up to the points of the graded cells
        points = sum(nbgrader(c).get("points", 0) for c in built.cells)
        column = [row.split("|")[-2].strip() for row in built.cells[0].source.splitlines()
                  if row.startswith("|") and row.split("|")[-2].strip()[:1].isdigit()]
        assert sum(sum(int(p) for p in entry.split("+")) for entry in column) == points, assignment
    again = {p: p.read_text() for p in tmp_path.glob("source/*/*.ipynb")}
    course.build(tmp_path)
    assert again == {p: p.read_text() for p in tmp_path.glob("source/*/*.ipynb")}, "a rebuild changed a file"
