"""The two-hour lab's core path (minidl.lab.corepath): the counting on a small synthetic
notebook; the real core path executed on its own, within 120 minutes, and as long as the
README's table says; and none of the speed machinery (notebook 05's business) in its cells.

The measured tests (marker ``notebooks``; ``make test-fast`` skips them) execute the core cells of
notebooks 01, 02, 03, 04 and 07 once (a module fixture), in fresh kernels, as
``python -m minidl.lab.corepath`` does.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from minidl.lab.corepath import (BUDGET_MINUTES, CORE_NOTEBOOKS, Part, core_cells, core_exercises, core_words,
                                 measure, run_core, total_minutes)
from minidl.lab.reproduce import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
# The README's run times were measured on one machine; another may be slower or faster.
RUN_TOLERANCE_SECONDS = 30
RUN_TOLERANCE_FRACTION = 0.5
# What belongs to notebook 05's speed section, never to the core path. (A core cell may *use*
# the engine where time matters, saying so in one line; how it works is 05's.)
SPEED_TALK = re.compile(r"\breplay\w*|\brecording\b|\bflat buffers?\b|floor\.py|\bout=|\blast bits?\b|\bulps?\b",
                        re.IGNORECASE)


def solution(source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": source[:8]}
    return cell


def synthetic() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell("# A chapter\n\nsix words in this cell"),      # 8 words
                new_code_cell("# Appendix\nx = 1"),                            # a code comment is no heading
                solution("y = x + 1"),
                new_markdown_cell("## Appendix: a level-2 heading does not cut"),  # 8 words
                new_code_cell("z = 3"),
                solution("w = 4"),
                new_markdown_cell("# Appendix: what follows"),
                solution("v = 5"),
                new_markdown_cell("many more words here that are not read in class")]
    return nb


def test_the_core_path_ends_at_the_first_level_one_appendix_heading():
    nb = synthetic()
    assert core_cells(nb) == nb.cells[:6]
    assert core_words(nb) == 8 + 8
    assert core_exercises(nb) == 2          # the solution after the heading is the appendix's


def test_a_notebook_without_an_appendix_is_core_in_full():
    nb = synthetic()
    del nb.cells[6]
    assert core_cells(nb) == nb.cells and core_exercises(nb) == 3


def test_minutes_of_a_part():
    part = Part("99_x", words=240, exercises=2, cell_seconds=[20.0, 40.0])
    assert (part.reading_minutes, part.exercise_minutes, part.run_minutes, part.total_minutes) == (2, 16, 1, 19)
    assert total_minutes([part, part]) == 38


def test_only_the_core_cells_run_and_the_file_is_not_written(tmp_path):
    nb = new_notebook()
    nb.cells = [new_code_cell("import time\ntime.sleep(0.5)"), new_markdown_cell("# Appendix: audit"),
                new_code_cell("raise RuntimeError('the appendix ran')")]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    seconds = run_core(path)
    assert len(seconds) == 1 and 0.5 <= seconds[0] < 5
    assert path.read_text() == before


def test_a_core_cell_that_needs_the_appendix_fails(tmp_path):
    nb = new_notebook()
    nb.cells = [new_code_cell("print(defined_in_the_appendix)"), new_markdown_cell("# Appendix"),
                new_code_cell("defined_in_the_appendix = 1")]
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    with pytest.raises(CellExecutionError, match="defined_in_the_appendix"):
        run_core(tmp_path / "01_x.ipynb")


# ---- the lab itself -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def measured() -> list[Part]:
    start = time.perf_counter()
    parts = measure()
    print(f"core paths executed in {time.perf_counter() - start:.0f} s")
    return parts


@pytest.mark.notebooks
def test_the_core_path_fits_in_two_hours(measured):
    assert [p.name[:2] for p in measured] == list(CORE_NOTEBOOKS)
    minutes = {p.name: round(p.total_minutes, 1) for p in measured}
    assert total_minutes(measured) <= BUDGET_MINUTES, f"{total_minutes(measured):.1f} minutes: {minutes}"


def readme_rows() -> dict[str, tuple[int, ...]]:
    """The README's core-path table: part -> (reading min, exercise min, run time s, total min)."""
    text = (ROOT / "README.md").read_text()
    section = re.split(r"\n#{1,6} ", text.split("## Two-hour lab: the core path", 1)[1], maxsplit=1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| (?:\[(\d\d_\w+)\]\(\S+\)|\*\*(core path)\*\*) \| (\d+) \| (\d+) \| (\d+) \| \**(\d+)\** \|$",
                         line)
        if match:
            rows[match[1] or match[2]] = tuple(int(n) for n in match.groups()[2:])
    return rows


def disagreements(parts: list[Part], rows: dict[str, tuple[int, ...]]) -> list[str]:
    """One line per number of the README's table (``rows``) that the measured ``parts`` do not give."""
    problems = []
    for name, reading, exercises, seconds, total in [
            *((p.name, p.reading_minutes, p.exercise_minutes, 60 * p.run_minutes, p.total_minutes) for p in parts),
            ("core path", sum(p.reading_minutes for p in parts), sum(p.exercise_minutes for p in parts),
             sum(60 * p.run_minutes for p in parts), total_minutes(parts))]:
        if name not in rows:
            problems.append(f"{name}: no row in the README's table")
            continue
        readme = rows[name]
        if (round(reading), round(exercises)) != readme[:2]:
            problems.append(f"{name}: reading and exercises {round(reading)}, {round(exercises)} min; "
                            f"the README says {readme[0]}, {readme[1]}")
        allowed = RUN_TOLERANCE_SECONDS + RUN_TOLERANCE_FRACTION * readme[2]
        if abs(seconds - readme[2]) > allowed:
            problems.append(f"{name}: run time {seconds:.0f} s; the README says {readme[2]} s (+- {allowed:.0f})")
        if abs(total - readme[3]) > 0.5 + allowed / 60:
            problems.append(f"{name}: {total:.1f} min in all; the README says {readme[3]}")
    problems += [f"{name}: in the README's table, not a core notebook" for name in rows
                 if name != "core path" and name not in {p.name for p in parts}]
    return problems


@pytest.mark.notebooks
def test_the_readme_table_is_what_the_notebooks_give(measured):
    problems = disagreements(measured, readme_rows())
    assert not problems, "python -m minidl.lab.corepath --markdown gives the table:\n" + "\n".join(problems)


def test_a_stale_readme_table_is_caught():
    """The README's rows as read, against parts that differ from them in one number each."""
    rows = readme_rows()
    assert len(rows) == len(CORE_NOTEBOOKS) + 1
    name = next(iter(rows))
    reading, exercises, seconds, total = rows[name]
    def part(words=reading * 120, solutions=exercises // 8, run=seconds):
        return [Part(name, words, solutions, [run])]
    assert disagreements(part(), {name: rows[name], "core path": rows[name]}) == []
    assert "reading" in disagreements(part(words=(reading + 1) * 120), {name: rows[name]})[0]
    assert "reading and exercises" in disagreements(part(solutions=exercises // 8 + 1), {name: rows[name]})[0]
    assert "run time" in disagreements(part(run=2 * seconds + 31), {name: rows[name]})[0]
    assert disagreements(part(run=seconds + 29), {name: rows[name], "core path": rows[name]}) == []


def core_text(path: Path) -> str:
    """The source and the printed outputs of the core cells of the notebook at ``path``."""
    texts = []
    for cell in core_cells(nbformat.read(path, as_version=4)):
        texts.append(cell.source)
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts += ["".join(output.get("data", {}).get(mime, "")) for mime in ("text/plain", "text/markdown")]
    return "\n".join(texts)


@pytest.mark.parametrize("prefix", CORE_NOTEBOOKS)
def test_the_core_path_leaves_the_speed_machinery_to_notebook_05(prefix):
    path, = NOTEBOOKS.glob(f"{prefix}_*.ipynb")
    text = core_text(path)
    found = sorted({m.group(0).lower() for m in SPEED_TALK.finditer(text)})
    assert not found, f"{path.name}'s core path mentions {found}"


def test_the_speed_check_catches_each_word():
    for said in ("the Replay", "recording once", "a flat buffer", "benchmarks/floor.py", "torch.mm(a, b, out=c)",
                 "float32's last bits", "one ulp"):
        assert SPEED_TALK.search(said), said
    for fine in ("layout='constrained'", "fan_out=3", "an engineer", "playing it back"):
        assert not SPEED_TALK.search(fine), fine
