"""Build the course site: ``python site/build.py`` (what ``make site`` runs, in .venv-site/).

1. Stages the sources in ``site/_build/src``: the README as the home page (with the site's
   navigation appended), the seven notebooks with their committed outputs, docs/errors.md, the
   figures and the other repository files the README links to. Each core notebook (01, 02, 03,
   04, 07) is cut at its ``# Appendix`` heading, the rule of ``minidl.lab.corepath``: its core
   page ends there and its appendix becomes a page of the appendix path, with 05 and 06. Every
   notebook page starts with a link to its source and how to run it live (``make lab``).
   Nothing is executed: the pages show the outputs the repository holds.
2. Copies MathJax 2.7 from the ``jupyter-server-mathjax`` package into ``_static/mathjax``.
3. Runs Sphinx (site/conf.py) into ``site/_build/html``, then prints the build time and size.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
BUILD = SITE / "_build"
SRC = BUILD / "src"
HTML = BUILD / "html"

CORE = ["01_data_set", "02_backpropagation", "03_gradient_check", "04_training", "07_playground"]
APPENDIX_ONLY = ["05_pytorch_comparison", "06_momentum_and_batches"]
APPENDIX_HEADING = "# Appendix"     # as minidl.lab.corepath.APPENDIX_HEADING
APPENDIX_SUFFIX = "_appendix"
# Repository documents the README links to, published as pages of their own
REFERENCE_DOCS = ["docs/errors.md", "benchmarks/README.md", "benchmarks/results.md", "benchmarks/results-amd-epyc.md"]


def source_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_appendix_heading(cell: dict) -> bool:
    """The rule of minidl.lab.corepath.is_appendix_heading (tests/test_site.py checks they agree)."""
    first = source_text(cell).lstrip().split("\n", 1)[0]
    return cell["cell_type"] == "markdown" and (first == APPENDIX_HEADING or first.startswith(APPENDIX_HEADING + ":"))


def split_at_appendix(cells: list[dict]) -> tuple[list[dict], list[dict]]:
    """(core cells, appendix cells): the cells before the first ``# Appendix`` heading and the rest."""
    for index, cell in enumerate(cells):
        if is_appendix_heading(cell):
            return cells[:index], cells[index:]
    return list(cells), []


def markdown_cell(text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def source_note(name: str, part: str) -> dict:
    """The first cell of a notebook's page: where its source is and how to run it live."""
    return markdown_cell(
        f":::{{note}}\n{part}. Source: {{download}}`notebooks/{name}.ipynb <../_raw/notebooks/{name}.ipynb>` "
        f"(the page shows its committed outputs; nothing runs here). To run it and do the exercises, "
        f"open the kit in JupyterLab: `make lab` in a clone of minidl.\n:::\n", f"site-source-{name}")


WIDGET_REPR = re.compile(r"^(VBox|HBox|Box|Tab|Accordion)\(children=")
WIDGET_FALLBACK = ("<figure><img src=\"data:image/gif;base64,{gif}\" alt=\"Animation: the paper's network "
                   "learning the disk, epoch by epoch: its decision regions over the training points\" "
                   "style=\"width:360px;max-width:100%\">"
                   "<figcaption>The live playground's sliders need a running kernel, which this page has not: "
                   "open the notebook in JupyterLab (<code>make lab</code>) to use them. The animation "
                   "(<code>figures/learning.gif</code>) shows what a run looks like.</figcaption></figure>")


def without_widgets(cells: list[dict]) -> list[dict]:
    """Copies of ``cells`` in which an output that is a widget's text form (``VBox(children=...``,
    what a notebook saved without widget state shows) becomes the learning animation with a
    caption saying where the widget runs: a page or a slide has no kernel."""
    gif = None
    out = []
    for cell in cells:
        outputs = cell.get("outputs", [])
        if any(WIDGET_REPR.match(source_text({"source": o.get("data", {}).get("text/plain", "")})) for o in outputs):
            if gif is None:
                gif = base64.b64encode((ROOT / "figures" / "learning.gif").read_bytes()).decode("ascii")
            cell = copy.deepcopy(cell)
            cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {"text/html": WIDGET_FALLBACK.format(gif=gif),
                                         "text/plain": "the live playground (make lab)"}}]
        out.append(cell)
    return out


def write_notebook(notebook: dict, cells: list[dict], path: Path) -> None:
    out = copy.deepcopy(notebook)
    out["cells"] = without_widgets(cells)
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")


def toctree(caption: str, entries: list[str]) -> str:
    return "\n```{toctree}\n:hidden:\n:titlesonly:\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```\n"


def stage() -> None:
    if SRC.exists():
        shutil.rmtree(SRC)
    (SRC / "notebooks").mkdir(parents=True)
    (SRC / "_raw" / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "figures", SRC / "figures")
    shutil.copytree(SITE / "_static", SRC / "_static") if (SITE / "_static").exists() else (SRC / "_static").mkdir()

    core_pages, appendix_pages = [], []
    for name in CORE + APPENDIX_ONLY:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        shutil.copy2(path, SRC / "_raw" / "notebooks" / path.name)
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if name in APPENDIX_ONLY:
            write_notebook(notebook, [source_note(name, "Appendix path")] + notebook["cells"],
                           SRC / "notebooks" / path.name)
            appendix_pages.append(f"notebooks/{name}")
            continue
        core, appendix = split_at_appendix(notebook["cells"])
        write_notebook(notebook, [source_note(name, "Core path: the notebook down to its appendix")] + core,
                       SRC / "notebooks" / path.name)
        core_pages.append(f"notebooks/{name}")
        if appendix:
            heading = copy.deepcopy(appendix[0])
            # "# Appendix: ..." -> "# 01 · Appendix: ...", a title that says whose appendix it is
            heading["source"] = re.sub(r"^(\s*)# ", rf"\g<1># {name[:2]} · ", source_text(heading), count=1)
            write_notebook(notebook, [heading, source_note(name, "Appendix path: the notebook after its core path")]
                           + appendix[1:], SRC / "notebooks" / f"{name}{APPENDIX_SUFFIX}.ipynb")
            appendix_pages.append(f"notebooks/{name}{APPENDIX_SUFFIX}")
    # the appendix path in the lab's order: 01, 02, 03, 04's appendices, 05, 06, 07's appendix
    order = {name: i for i, name in enumerate(["01", "02", "03", "04", "05", "06", "07"])}
    appendix_pages.sort(key=lambda page: order[page.split("/")[1][:2]])

    reference = []
    for doc in REFERENCE_DOCS:
        target = SRC / doc
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / doc, target)
        reference.append(doc.removesuffix(".md"))

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # Other repository files the README links to (source files): downloads of the site
    for link in sorted(set(re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme))):
        if "://" in link or link.startswith("mailto:"):
            continue
        if (SRC / link).exists() or not (ROOT / link).is_file():
            continue
        (SRC / link).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / link, SRC / link)
    index = (readme + "\n" + toctree("Core path: the two-hour lab", core_pages)
             + toctree("Appendix path", appendix_pages) + toctree("Reference", reference))
    (SRC / "index.md").write_text(index, encoding="utf-8")


def copy_mathjax() -> Path:
    import jupyter_server_mathjax
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        sys.exit(f"error: no MathJax.js in {static}: reinstall jupyter-server-mathjax (requirements-site.txt)")
    target = SRC / "_static" / "mathjax"
    shutil.copytree(static, target, dirs_exist_ok=True)
    return target


def size_of(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> int:
    start = time.perf_counter()
    stage()
    copy_mathjax()
    if HTML.exists():
        shutil.rmtree(HTML)
    # --strict (make site): any Sphinx warning (a broken link, a missing image) fails the build
    strict = ["-W", "--keep-going"] if "--strict" in sys.argv[1:] else []
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", *strict, "-c", str(SITE),
               "-d", str(BUILD / "doctrees"), str(SRC), str(HTML)]
    result = subprocess.run(command, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    if result.returncode:
        return result.returncode
    report("site", HTML, f"{len(list(HTML.rglob('*.html')))} HTML pages", start)
    return 0


def report(kind: str, folder: Path, what: str, start: float) -> None:
    """Print what a build made (``make site``, ``make slides``): where, how big, how long."""
    files, size = size_of(folder)
    _, mathjax = size_of(folder / "_static" / "mathjax")
    where = folder.relative_to(ROOT)
    print(f"{kind}: {where}/index.html, {what}, {files} files, {size / 2**20:.1f} MiB "
          f"({mathjax / 2**20:.1f} MiB of it MathJax), built in {time.perf_counter() - start:.1f} s")
    print(f"open it: {where}/index.html, or python3 -m http.server -d {where}")


if __name__ == "__main__":
    sys.exit(main())
