"""The student edition (course/) end to end, with real nbgrader, in a temporary copy of the course.

One module-scoped copy is generated (``generate_assignment``, as ``make student``) and graded
(``autograde``, ``generate_feedback``, ``export``, as ``make grade``) for four students:

- ``solutions`` hands in the source notebooks as they are: full marks everywhere;
- ``unchanged`` hands in the released notebooks untouched: zero on every autograded cell;
- ``broken`` hands in assignment 1's solutions with one sign flipped in ``Linear.backward``;
- ``pasted`` hands in assignment 2's solutions with its own (correct) layers pasted in, which
  the notebook must then train.

nbgrader runs with this environment's ``bin/`` first on PATH: it calls ``alembic`` by name.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from minidl.lab.grading import grades_table

pytestmark = pytest.mark.course

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
GENERATED = ("release", "submitted", "autograded", "feedback", "gradebook.db", "grades.csv", ".nbgrader.log",
             "__pycache__", ".ipynb_checkpoints")
ASSIGNMENTS = sorted(p.name for p in (ROOT / "course" / "source").iterdir() if p.is_dir())
SIGN_FLIP = ("self.grad_weight += g.T @ self.input", "self.grad_weight -= g.T @ self.input")


def nbgrader(course: pathlib.Path, *args: str) -> str:
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=ENV, capture_output=True,
                            text=True, timeout=1800)
    if result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr


def notebook_of(folder: pathlib.Path) -> pathlib.Path:
    (path,) = folder.glob("*.ipynb")
    return path


def solution_lines(cell) -> list[str]:
    """The lines between ### BEGIN SOLUTION and ### END SOLUTION of a cell, stripped, non-empty."""
    lines, inside = [], False
    for line in cell.source.splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def without_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def paste_layers(training: pathlib.Path, layers_source: pathlib.Path) -> None:
    """What a student does in assignment 2: copy their classes from assignment 1 into the cell
    that asks for them (here: the solutions of assignment 1, without nbgrader's markers)."""
    classes = [without_markers(c.source) for c in nbformat.read(layers_source, 4).cells
               if c.metadata.get("nbgrader", {}).get("solution")]
    nb = nbformat.read(training, 4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Paste your")]
    cell.source = "\n\n\n".join(classes)
    nbformat.write(nb, training)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> pathlib.Path:
    course = tmp_path_factory.mktemp("course") / "course"
    shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns(*GENERATED))
    nbgrader(course, "generate_assignment", "*", "--force")
    submitted = course / "submitted"
    for a in ASSIGNMENTS:
        shutil.copytree(course / "source" / a, submitted / "solutions" / a)
        shutil.copytree(course / "release" / a, submitted / "unchanged" / a)
    layers = notebook_of(course / "source" / "01_layers")
    shutil.copytree(course / "source" / "01_layers", submitted / "broken" / "01_layers")
    broken = notebook_of(submitted / "broken" / "01_layers")
    text = broken.read_text()
    assert text.count(SIGN_FLIP[0]) == 1, "the line to break is not in the layers notebook any more"
    broken.write_text(text.replace(*SIGN_FLIP))
    shutil.copytree(course / "source" / "02_training", submitted / "pasted" / "02_training")
    paste_layers(notebook_of(submitted / "pasted" / "02_training"), layers)
    nbgrader(course, "autograde", "*", "--force")
    nbgrader(course, "generate_feedback", "*", "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    return course


def cell_scores(course: pathlib.Path, student: str, assignment: str) -> dict[str, tuple[float, float]]:
    """grade_id -> (score, max score) of every graded cell of a student's submission."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(assignment, student)
        return {grade.name: (grade.score, grade.max_score)
                for notebook in submission.notebooks for grade in notebook.grades}


def grades(course: pathlib.Path) -> dict[tuple[str, str], tuple[float, float]]:
    import csv
    with open(course / "grades.csv", newline="") as file:
        return {(row["student_id"], row["assignment"]): (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(file)}


def autograded(course: pathlib.Path, student: str, assignment: str):
    return nbformat.read(notebook_of(course / "autograded" / student / assignment), 4)


def test_the_course_has_three_assignments_in_course_order():
    assert ASSIGNMENTS[:3] == ["01_layers", "02_training", "03_momentum_and_batches"]


def test_the_sources_submitted_as_they_are_score_full_marks(course):
    table = grades(course)
    for a in ASSIGNMENTS:
        score, maximum = table["solutions", a]
        assert maximum > 0 and score == maximum, f"{a}: the solutions score {score}/{maximum}"
        partial = {cell: s for cell, s in cell_scores(course, "solutions", a).items() if s[0] != s[1]}
        assert not partial, f"{a}: cells below full marks: {partial}"


def test_the_releases_submitted_unchanged_score_zero_on_every_autograded_cell(course):
    for a in ASSIGNMENTS:
        scores = cell_scores(course, "unchanged", a)
        assert scores and all(score == 0 for score, _ in scores.values()), f"{a}: {scores}"
        assert grades(course)["unchanged", a][0] == 0


def test_a_sign_flipped_in_linear_backward_loses_that_functions_points_only(course):
    scores = cell_scores(course, "broken", "01_layers")
    assert scores.pop("test_linear_backward") == (0, 4)
    assert scores and all(score == maximum > 0 for score, maximum in scores.values()), scores
    # and the message says which gradient, which equation, how wrong and where
    (cell,) = [c for c in autograded(course, "broken", "01_layers").cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "test_linear_backward"]
    error = "\n".join(o.get("evalue", "") for o in cell.outputs if o.output_type == "error")
    assert "grad_weight (eq. (4) summed over the N samples, shape (out, in) = (4, 3))" in error
    assert "relative error 2 against finite differences" in error and "worst at entry (" in error
    assert "dl/dx" not in error and "grad_bias" not in error


def test_pasted_layers_are_the_ones_trained_and_score_full_marks(course):
    score, maximum = grades(course)["pasted", "02_training"]
    assert score == maximum > 0
    (cell,) = [c for c in autograded(course, "pasted", "02_training").cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "choose_layers"]
    printed = "".join(o.get("text", "") for o in cell.outputs)
    for name in ("Linear", "ReLU", "Tanh", "MSE"):
        assert f"{name.ljust(6)} yours (it passes the gradient check)" in printed, printed


def test_no_line_of_any_solution_or_hidden_test_appears_in_any_release(course):
    releases = {path: "\n".join(c.source for c in nbformat.read(path, 4).cells)
                for path in (course / "release").glob("*/*.ipynb")}
    assert len(releases) == len(ASSIGNMENTS)
    checked = 0
    for source in (course / "source").glob("*/*.ipynb"):
        for cell in nbformat.read(source, 4).cells:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1:]
            lines = solution_lines(cell) + [line.strip() for part in hidden
                                            for line in part.split("### END HIDDEN TESTS")[0].splitlines()
                                            if line.strip()]
            for line in lines:
                checked += 1
                for path, text in releases.items():
                    assert line not in text, f"{source.name}: the solution line {line!r} is in {path.name}"
    assert checked > 30


def test_feedback_and_the_table_of_students_by_assignment(course):
    for student, assignments in (("solutions", ASSIGNMENTS), ("broken", ["01_layers"])):
        for a in assignments:
            assert list((course / "feedback" / student / a).glob("*.html")), (student, a)
    table = grades_table(str(course / "grades.csv"), str(course / "submitted")).splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in table[2:]}
    assert table[0].split() == ["student", *ASSIGNMENTS, "total"]
    assert rows["broken"][:2] == ["8/12", "-"]
    assert rows["unchanged"][0] == "0/12"
    score, maximum = rows["solutions"][-1].split("/")
    assert score == maximum != "0"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_release_runs_top_to_bottom_with_only_not_implemented_errors(course, assignment, tmp_path):
    folder = tmp_path / assignment
    shutil.copytree(course / "release" / assignment, folder)
    path = notebook_of(folder)
    nb = nbformat.read(path, 4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    errors = [(k, o) for k, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors, "nothing failed: are the exercises still to do in the release?"
    # the stub nbgrader leaves is a bare `raise NotImplementedError()`: an empty message (minidl's
    # own NotImplementedErrors, e.g. Module.forward, name the class)
    wrong = [(k, o.ename, o.evalue) for k, o in errors if (o.ename, o.evalue) != ("NotImplementedError", "")]
    assert not wrong, f"cells failing with something else than the stubs' NotImplementedError: {wrong}"
    for k, cell in enumerate(nb.cells):        # the solution cells themselves define, they do not fail
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], f"solution cell {k} fails"
