"""The lab notebooks as slides: which cell starts a slide, which appears as a fragment.

The notebooks carry reveal.js's slide metadata (``cell.metadata.slideshow.slide_type``), as
``jupyter nbconvert --to slides`` (``make slides``) and JupyterLab's RISE extension (live slides,
``make lab``) read it. It is not written by hand: :func:`slide_type` derives it from the cells,
so that a new section or prompt gets its slide by the same rule (``tests/test_slides.py``
checks that every committed notebook follows it; ``python -m minidl.lab.slides`` rewrites it).

The rule, in order:

- ``# title`` and ``## section`` headings start a slide (a column of reveal.js);
- ``###`` and ``####`` headings start a sub-slide (one below it): a subsection, an exercise,
  a predict-then-run prompt, a worksheet item;
- a prompt's answer (a cell that starts with ``<details>``: *Look for*, *Observe*) gets a
  sub-slide of its own, read after the prediction;
- an exercise's solution (an nbgrader solution cell) and its tests (``**Tests...``) get a
  sub-slide each: the teacher shows the task first, then the answer;
- a prompt's instruction (a cell that starts with ``*Do.*`` or ``*Do:*``) and the code cell
  after it are fragments: the class predicts before the code appears;
- every other cell continues the slide it is on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from minidl.lab.reproduce import find_notebooks

SLIDE, SUBSLIDE, FRAGMENT, CONTINUE = "slide", "subslide", "fragment", "-"


def _first_line(cell) -> str:
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return source.lstrip().split("\n", 1)[0]


def _is_do(cell) -> bool:
    return cell.get("cell_type") == "markdown" and _first_line(cell).startswith(("*Do.*", "*Do:*"))


def slide_type(cell, previous=None) -> str:
    """The reveal.js slide type of ``cell``, given the cell before it (``None`` for the first)."""
    first = _first_line(cell)
    if cell.get("cell_type") == "markdown":
        if first.startswith(("# ", "## ")):
            return SLIDE
        if first.startswith(("### ", "#### ", "<details>", "**Tests")):
            return SUBSLIDE
        if _is_do(cell):
            return FRAGMENT
        return CONTINUE
    if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
        return SUBSLIDE
    if previous is not None and _is_do(previous):
        return FRAGMENT
    return CONTINUE


def apply(notebook) -> int:
    """Set every cell's slide type by the rule; returns how many cells changed."""
    changed = 0
    previous = None
    for cell in notebook["cells"]:
        wanted = slide_type(cell, previous)
        slideshow = cell.setdefault("metadata", {}).setdefault("slideshow", {})
        if slideshow.get("slide_type") != wanted:
            slideshow["slide_type"] = wanted
            changed += 1
        previous = cell
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Set the lab notebooks' slide metadata by the rule of minidl.lab.slides.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook does not follow the rule")
    args = parser.parse_args(argv)
    stale = []
    for path in find_notebooks():
        notebook = nbformat.read(path, as_version=4)
        changed = apply(notebook)
        if changed and args.check:
            stale.append(f"{Path(path).name}: {changed} cells")
        elif changed:
            nbformat.write(notebook, path)
            print(f"{Path(path).name}: slide metadata of {changed} cells set")
    if stale:
        print("slide metadata out of date (python -m minidl.lab.slides rewrites it): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
