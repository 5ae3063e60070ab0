"""The lab notebooks' slide metadata (minidl.lab.slides): the rule, and the committed notebooks
following it. The decks themselves (make slides) are certified offline in tests/test_site.py."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from minidl.lab import corepath, slides
from minidl.lab.reproduce import find_notebooks

NOTEBOOKS = find_notebooks()


def md(text: str) -> dict:
    return nbformat.v4.new_markdown_cell(text)


def code(text: str = "x = 1", **nbgrader) -> dict:
    cell = nbformat.v4.new_code_cell(text)
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


@pytest.mark.parametrize("cell, previous, expected", [
    (md("# 04 · Training"), None, "slide"),
    (md("## 1. The network"), md("text"), "slide"),
    (md("### Predict, then run: forget `zero_grad`\n\n*Question.* ..."), md("text"), "subslide"),
    (md("#### 1. Learning rate\n\n*Predict:* ..."), md("text"), "subslide"),
    (md("<details><summary><b>Look for</b></summary>\n\nthe answer\n\n</details>"), code(), "subslide"),
    (md("**Tests.** The gradient checker ..."), code(), "subslide"),
    (md("*Do.* In the cell below, change ..."), md("### Predict"), "fragment"),
    (md("*Do:* move **learning rate** to 0.1"), md("#### 1."), "fragment"),
    (code("r = RADIUS   # try: ..."), md("*Do.* In the cell below ..."), "fragment"),
    (code("class Linear(Module): ...", solution=True, grade=False), md("### Exercise 1"), "subslide"),
    (code("check_linear_forward(Linear)", solution=False, grade=True), md("**Tests.**"), "-"),
    (md("The same numbers on the graph, $s = w x + b$."), code(), "-"),
    (code("print(1)"), md("## A section"), "-"),
    (md("Text that mentions *Do.* in the middle"), md("x"), "-"),
])
def test_the_rule(cell, previous, expected):
    assert slides.slide_type(cell, previous) == expected


def test_apply_sets_every_cell_and_counts_the_changes():
    notebook = nbformat.v4.new_notebook(cells=[md("# Title"), md("*Do.* run it"), code(), md("<details>a</details>")])
    assert slides.apply(notebook) == 4
    assert [c.metadata["slideshow"]["slide_type"] for c in notebook.cells] == ["slide", "fragment", "fragment", "subslide"]
    assert slides.apply(notebook) == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_committed_notebook_follows_the_rule(path):
    notebook = nbformat.read(path, as_version=4)
    stored = [c.metadata.get("slideshow", {}).get("slide_type") for c in notebook.cells]
    slides.apply(notebook)
    wanted = [c.metadata["slideshow"]["slide_type"] for c in notebook.cells]
    wrong = [(i, s, w) for i, (s, w) in enumerate(zip(stored, wanted)) if s != w]
    assert not wrong, f"{path.name}: cells (index, stored, rule) {wrong}: run python -m minidl.lab.slides"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] in corepath.CORE_NOTEBOOKS], ids=lambda p: p.stem)
def test_each_prompt_of_the_core_path_is_question_then_fragments_then_its_answer(path):
    """In every deck of the core path, a predict-then-run prompt is a sub-slide with its
    question; its instruction (and its code, if it has any) appear as fragments; its answer
    starts the next sub-slide. The answer stays collapsed in the notebook (test_lab_notebooks)."""
    cells = corepath.core_cells(nbformat.read(path, as_version=4))
    kinds = [c.metadata.slideshow.slide_type for c in cells]
    prompts = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
               and re.match(r"(### Predict, then run|#### \d\. )", c.source)]
    assert prompts, path.name
    for i in prompts:
        assert kinds[i] == "subslide", (path.name, i)
        assert kinds[i + 1] == "fragment" and cells[i + 1].source.startswith(("*Do.*", "*Do:*")), (path.name, i)
        j = i + 2
        if cells[j].cell_type == "code":
            assert kinds[j] == "fragment", (path.name, j)
            j += 1
        assert cells[j].source.startswith("<details>") and kinds[j] == "subslide", (path.name, j)


def test_every_section_of_the_core_path_starts_a_slide():
    for path in NOTEBOOKS:
        if path.name[:2] not in corepath.CORE_NOTEBOOKS:
            continue
        for cell in corepath.core_cells(nbformat.read(path, as_version=4)):
            if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source):
                assert cell.metadata.slideshow.slide_type == "slide", (path.name, cell.source[:40])


def test_check_mode_reports_a_stale_notebook(tmp_path, monkeypatch, capsys):
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    notebook.cells[0].metadata["slideshow"] = {"slide_type": "-"}
    nbformat.write(notebook, tmp_path / NOTEBOOKS[0].name)
    import minidl.lab.reproduce as reproduce
    monkeypatch.setattr(reproduce, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(reproduce.find_notebooks, "__defaults__", (tmp_path, None))
    assert slides.main(["--check"]) == 1
    assert "slide metadata out of date" in capsys.readouterr().out
    assert slides.main([]) == 0
    assert slides.main(["--check"]) == 0
    assert nbformat.read(tmp_path / NOTEBOOKS[0].name, as_version=4).cells[0].metadata.slideshow.slide_type == "slide"


def headings_after_the_first_line(source: str) -> list[str]:
    """The Markdown headings of a cell that are not its first line (code fences skipped): each
    would hide a section inside the slide of the one before."""
    found, fenced = [], False
    for number, line in enumerate(source.split("\n")):
        if line.startswith("```"):
            fenced = not fenced
        elif number and not fenced and re.match(r"#{1,4} ", line):
            found.append(line)
    return found


def test_a_heading_inside_a_cell_is_found():
    assert headings_after_the_first_line("## 1. A\n\ntext\n\n## 2. B\n") == ["## 2. B"]
    assert headings_after_the_first_line("## 1. A\n\n```python\n# a comment\n```\n") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_heading_starts_its_cell(path):
    """The slide rule reads a cell's first line: a heading further down would start no slide, and
    its section would run on below the previous one's."""
    notebook = nbformat.read(path, as_version=4)
    hidden = [(i, h) for i, c in enumerate(notebook.cells) if c.cell_type == "markdown"
              for h in headings_after_the_first_line(c.source)]
    assert not hidden, f"{path.name}: headings not at the start of their cell (split the cell there): {hidden}"
