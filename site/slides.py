"""Build the lecture slides: ``python site/slides.py`` (what ``make slides`` runs, in .venv-site/).

One reveal.js deck per notebook of the core path (01, 02, 03, 04, 07), each cut at its
``# Appendix`` heading as the site's core pages are (site/build.py), into ``site/_build/slides/``
with an ``index.html`` that lists them. The slides follow the metadata the notebooks carry
(``minidl.lab.slides`` sets it: a slide per section, a sub-slide per subsection, prompt or
exercise, the answers on sub-slides of their own, the prompts' instructions and code as
fragments). Nothing is executed: the decks show the committed outputs.

Every asset is a file of the build: reveal.js from the npm registry (``site/package.json`` and
its lock file; ``make slides`` runs ``npm ci`` into ``site/node_modules``), MathJax 2.7 from the
``jupyter-server-mathjax`` package, as the site. The template (``site/slides_template``) drops
nbconvert's CDN scripts (jQuery, require.js, mermaid, the widget manager).
"""
from __future__ import annotations

import html
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

import build    # site/build.py: the core notebooks and the appendix rule, shared with the site

ROOT = build.ROOT
SITE = build.SITE
OUT = build.BUILD / "slides"
REVEAL = SITE / "node_modules" / "reveal.js"
TEMPLATE = SITE / "slides_template"
STATIC = "_static"


def deck_name(notebook: str) -> str:
    return f"{notebook}.html"


def relink(text: str) -> str:
    """Links between notebooks point to the decks; a link to a notebook with no deck (an
    appendix notebook) keeps its text and loses its target, which the slides do not hold."""
    def replace(match: re.Match) -> str:
        label, name = match.group(1), match.group(2)
        return f"[{label}]({deck_name(name)})" if name in build.CORE else label
    return re.sub(r"\[([^\]]+)\]\((\d\d_[a-z_]+)\.ipynb(?:#[^)]*)?\)", replace, text)


MARKER_LINE = re.compile(r"^[ \t]*(# NBVAL_\w+|### (BEGIN|END) SOLUTION)[ \t]*\n?", re.M)
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.M | re.S)


def for_the_room(cell) -> None:
    """What a slide shows of a cell. Markdown: links to the decks, and a prompt's answer open on
    its own sub-slide (moving to it is the reveal; in the notebook it stays closed). Code: no test
    or grading markers (nbval's, nbgrader's) and no hidden tests; and a predict-then-run prompt's
    code (a fragment) without the output it saved, the run before the change the class predicts."""
    kind = cell.metadata.get("slideshow", {}).get("slide_type")
    if cell.cell_type == "markdown":
        cell.source = relink(cell.source)
        if kind == "subslide" and cell.source.startswith("<details>"):
            cell.source = cell.source.replace("<details>", "<details open>", 1)
        return
    cell.source = MARKER_LINE.sub("", HIDDEN_TESTS.sub("", cell.source)).strip("\n")
    if kind == "fragment":
        cell.outputs, cell.execution_count = [], None


def core_notebook(name: str):
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    core, _ = build.split_at_appendix(notebook.cells)
    notebook.cells = [nbformat.from_dict(cell) for cell in build.without_widgets(core)]
    for cell in notebook.cells:
        for_the_room(cell)
    title = build.source_text(core[0]).lstrip("# ").split("\n", 1)[0]
    notebook.metadata["title"] = title
    return notebook, title


def exporter() -> SlidesExporter:
    slides = SlidesExporter(extra_template_paths=[str(TEMPLATE)], template_file="minidl_slides.html.j2")
    slides.reveal_url_prefix = f"{STATIC}/reveal.js"
    slides.mathjax_url = f"{STATIC}/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
    slides.reveal_theme = "white"
    slides.exclude_input_prompt = True
    slides.exclude_output_prompt = True
    return slides


def copy_assets() -> None:
    if not (REVEAL / "dist" / "reveal.js").exists():
        sys.exit(f"error: {REVEAL.relative_to(ROOT)}/dist/reveal.js missing: run `npm ci` in site/ (make slides does)")
    shutil.copytree(REVEAL / "dist", OUT / STATIC / "reveal.js" / "dist")
    shutil.copytree(REVEAL / "plugin" / "notes", OUT / STATIC / "reveal.js" / "plugin" / "notes")
    shutil.copy2(REVEAL / "LICENSE", OUT / STATIC / "reveal.js" / "LICENSE")
    import jupyter_server_mathjax
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(mathjax, OUT / STATIC / "mathjax")
    shutil.copy2(SITE / "favicon.svg", OUT / "favicon.svg")


INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minidl: the lab's slides</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<style>
body {{ font-family: sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #1a1a1a; }}
a {{ color: #0b57a4; }}
kbd {{ border: 1px solid #888; border-radius: 3px; padding: 0 0.3em; }}
</style>
</head>
<body>
<main>
<h1>minidl: the lab's slides</h1>
<p>One deck per notebook of the core path (the two-hour lab), made from the notebooks' committed
outputs. Move with the arrow keys: <kbd>&rarr;</kbd> to the next section, <kbd>&darr;</kbd> through
its sub-slides (the space bar takes every slide in order); <kbd>Esc</kbd> shows the overview,
<kbd>S</kbd> the speaker view. A prompt's instruction and code appear one step after its
question, without an output: run it live (below) once the class has predicted. Its answer is on
the next sub-slide, open.</p>
<ol>
{items}
</ol>
<p>To run the code while presenting, open the notebooks live in JupyterLab (<code>make lab</code>):
<em>View &rarr; Presentation Mode</em> enlarges everything for the room, and the playground's sliders
work there (they need a kernel, which these slides have not).</p>
</main>
</body>
</html>
"""


def main() -> int:
    start = time.perf_counter()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    copy_assets()
    slides = exporter()
    items, count = [], 0
    for name in build.CORE:
        notebook, title = core_notebook(name)
        body, _ = slides.from_notebook_node(notebook, resources={"metadata": {"name": name}})
        (OUT / deck_name(name)).write_text(body, encoding="utf-8")
        sections = sum(cell.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide")
                       for cell in notebook.cells)
        count += sections
        items.append(f'<li><a href="{deck_name(name)}">{html.escape(title)}</a> ({sections} slides)</li>')
    (OUT / "index.html").write_text(INDEX.format(items="\n".join(items)), encoding="utf-8")
    build.report("slides", OUT, f"{len(build.CORE)} decks, {count} slides", start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
