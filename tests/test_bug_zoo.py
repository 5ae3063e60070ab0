"""The bug zoo (``tests/bug_zoo.py``) through the course's graded cells, as nbgrader runs them.

For each mistake, its answer cell (the correct cell with the zoo's edits made, ``bug_zoo.answer``)
takes the place of the correct one in the source notebook;
the notebook's cells run in order in one namespace (every nbgrader cell: the locked set-up, the
answers, the locked test cells with their hidden tests; not the free cells a student may edit
or delete). Exactly the mistake's test cells must fail, every other keeps its points, and the
first failing cell's message must name the zoo's hint as the likely mistake. Random answers of
the right shapes fail the same cells without any hint, and the correct answers pass everything.

Assignment 2's train calls the student's gradient_step, as the notebook asks; its checks swap in
a correct step meanwhile (``minidl.lab.grading.correct_gradient_step``), so a mistake in
gradient_step costs gradient_step's points only. Its training cell
trains the paper's network for 35 epochs, once (about 5 s on one
thread here), so every zoo entry's notebook is graded at the start, all at once, in a pool of
processes (one per core).
"""
from __future__ import annotations

import ast
import contextlib
import io
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import NamedTuple

import nbformat
import pytest

from bug_zoo import NOISE, ZOO, Mistake, answer
from helpers import course_source
from minidl.lab.recheck import policy_problems

ASSIGNMENTS = ("01_layers", "02_training", "03_momentum_and_batches")


class Failure(NamedTuple):
    """How a test cell failed: the exception's type and message, and the hint it carried."""
    error: str
    message: str
    hint: str | None        # the key of the hint (minidl.lab.hints.Hint), None without one
    hint_text: str | None


def notebook(assignment: str) -> nbformat.NotebookNode:
    (path,) = (course_source() / assignment).glob("*.ipynb")
    return nbformat.read(path, as_version=4)


def nbgrader_cells(assignment: str) -> list[tuple[dict, str]]:
    """(nbgrader metadata, source) of the notebook's nbgrader code cells, in order."""
    return [(cell.metadata["nbgrader"], cell.source) for cell in notebook(assignment).cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader")]


def grade(assignment: str, answers: dict[str, str]) -> dict[str, Failure | None]:
    """Run the notebook's nbgrader cells in order, in one namespace, the answer cells of
    ``answers`` (grade id -> source) replaced: grade id of every graded test cell -> how it
    failed (None: it passed). Prints go nowhere. An answer or locked cell that raises is an
    error of the zoo itself, not a failed test: it raises here."""
    namespace: dict = {"__name__": "__main__"}
    results: dict[str, Failure | None] = {}
    for meta, source in nbgrader_cells(assignment):
        grade_id = meta["grade_id"]
        code = answers.get(grade_id, source) if meta.get("solution") else source
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"<cell {grade_id}>", "exec"), namespace)
        except Exception as error:                      # noqa: BLE001 (a failed test is any error)
            if not meta.get("grade"):
                raise
            hint = getattr(error, "hint", None)
            results[grade_id] = Failure(type(error).__name__, str(error), hint and hint.key, hint and hint.text)
        else:
            if meta.get("grade"):
                results[grade_id] = None
    return results


def _grade_entry(entry: tuple[str, dict[str, str]]) -> dict[str, Failure | None]:
    import torch
    torch.set_num_threads(1)
    return grade(*entry)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Failure | None]]:
    """name -> the grade of every zoo entry, noise entry and correct notebook ('correct <assignment>'),
    computed in parallel (a fresh 'spawn' process per worker: pytest's process has run torch threads)."""
    jobs = {m.name: (m.assignment, {m.grade_id: source_of(m)}) for m in ZOO + NOISE}
    jobs.update({f"correct {a}": (a, {}) for a in ASSIGNMENTS})
    trainings = {m.name: 1 for m in ZOO + NOISE if m.assignment == "02_training"}   # the paper's network, trained
    trainings["correct 02_training"] = 1
    order = sorted(jobs, key=lambda name: -trainings.get(name, 0))       # the longest first
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=get_context("spawn")) as pool:
        results = dict(zip(order, pool.map(_grade_entry, [jobs[name] for name in order])))
    return results


def source_of(mistake: Mistake) -> str:
    """The answer cell with the mistake made, from the source notebook's correct one."""
    [correct] = [source for meta, source in nbgrader_cells(mistake.assignment)
                 if meta.get("solution") and meta["grade_id"] == mistake.grade_id]
    return answer(mistake, correct)


def graded_cells(assignment: str) -> list[str]:
    return [meta["grade_id"] for meta, _ in nbgrader_cells(assignment) if meta.get("grade")]


def test_the_zoo_has_at_least_15_mistakes_across_the_three_assignments():
    assert len(ZOO) >= 15
    assert len({m.name for m in ZOO + NOISE}) == len(ZOO + NOISE)
    assert {m.assignment for m in ZOO} == set(ASSIGNMENTS)
    for m in ZOO + NOISE:
        answers = {meta["grade_id"]: source for meta, source in nbgrader_cells(m.assignment) if meta.get("solution")}
        assert m.grade_id in answers, m.name
        assert source_of(m).strip() != answers[m.grade_id].strip(), f"{m.name}: no mistake made"
        assert m.fails and m.fails <= set(graded_cells(m.assignment)), m.name


def bound_names(source: str) -> set[str]:
    """The names a cell binds at its top level (imports, assignments, functions, classes)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {element.id for target in node.targets
                      for element in (target.elts if isinstance(target, ast.Tuple) else [target])
                      if isinstance(element, ast.Name)}
    return names


@pytest.mark.parametrize("mistake", ZOO + NOISE, ids=lambda m: m.name)
def test_every_zoo_answer_is_code_the_clean_recheck_runs(mistake):
    """A student could make each mistake without tripping minidl.lab.recheck's rules (which
    protect the names the locked cells bind)."""
    protected = {name for meta, source in nbgrader_cells(mistake.assignment) if meta.get("locked")
                 for name in bound_names(source)}
    assert "torch" in protected
    assert policy_problems(source_of(mistake), protected) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_correct_answers_pass_every_test_cell(outcomes, assignment):
    results = outcomes[f"correct {assignment}"]
    assert set(results) == set(graded_cells(assignment))
    assert {cell: failure for cell, failure in results.items() if failure} == {}


@pytest.mark.parametrize("mistake", ZOO, ids=lambda m: m.name)
def test_each_mistake_loses_exactly_its_functions_points_and_is_named_first(outcomes, mistake: Mistake):
    results = outcomes[mistake.name]
    failed = {cell for cell, failure in results.items() if failure}
    assert failed == mistake.fails, {cell: results[cell] for cell in failed ^ mistake.fails}
    first = results[next(cell for cell in graded_cells(mistake.assignment) if cell in failed)]
    assert first.error in ("AssertionError", "CheckFailure"), f"a raw error reached the student: {first}"
    assert first.hint == mistake.hint, first.message
    assert first.message.split("\nLikely mistake: ")[1] == first.hint_text + ".", first.message


@pytest.mark.parametrize("mistake", NOISE, ids=lambda m: m.name)
def test_random_answers_fail_the_same_cells_without_a_hint(outcomes, mistake: Mistake):
    results = outcomes[mistake.name]
    assert {cell for cell, failure in results.items() if failure} == mistake.fails
    for cell in mistake.fails:
        assert results[cell].hint is None and "Likely mistake" not in results[cell].message, results[cell]
