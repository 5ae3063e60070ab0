"""A submitted notebook, executed top to bottom in a fresh kernel, inside the grading sandbox
(``python -P minidl/lab/execute.py NOTEBOOK CELL_TIMEOUT [ANSWERED] FD``; ``minidl.lab.regrade``
runs it).

nbgrader's own ``Execute`` step, with three differences that keep a submission from faking a
pass: a cell that fails without printing a traceback (``showtraceback`` silenced) still gets
an error output; a cell past the time limit is interrupted and fails, and the next cells run;
and the executed notebook (every output cut to ``OUTPUT_LIMIT`` characters) goes back through
the file descriptor ``FD``, not through a file the kernel could rewrite, with a status that says
whether every cell ran (a kernel that died or exited leaves cells unexecuted: the caller gives
that notebook 0).

``ANSWERED``, a JSON file that this process reads and deletes before the kernel starts: test
cells the clean re-check (``minidl.lab.recheck``) ran already, each with its verdict, what it
printed and its time: such a cell is not run again here (the training test of assignment 2
takes seconds); the kernel runs a stand-in that prints the re-check's output and fails as the
re-check's check failed, and the cell gets its own source back in the notebook returned. The
re-check's verdict is the one that counts for such a cell anyway (``minidl.lab.regrade`` keeps
a test cell's points only if the re-check passed it), now the notebook shows it too.

Run as a script, not with ``python -m minidl.lab.execute``: ``-m`` would import the package
``minidl`` first, and with it torch (1 s of CPU per submission), which this process never uses
(the kernel imports its own); ``-P`` keeps this file's folder off ``sys.path``. Run so, it also
keeps ``jsonschema`` (under ``nbformat``) from importing ``rfc3987_syntax``, which builds a
grammar for the ``iri`` format at import (0.8 s); no notebook schema has that format.
"""
from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__":
    sys.modules.setdefault("rfc3987_syntax", None)      # jsonschema: no "iri" format check (see above)

import nbformat
from nbclient import NotebookClient

OUTPUT_LIMIT = 20_000
OUTPUTS_PER_CELL = 50


def _cut(cell) -> None:
    """At most OUTPUTS_PER_CELL outputs of at most OUTPUT_LIMIT characters each."""
    cell.outputs = cell.outputs[:OUTPUTS_PER_CELL]
    for output in cell.outputs:
        if output.get("output_type") == "stream" and len(output.get("text", "")) > OUTPUT_LIMIT:
            output["text"] = output["text"][:OUTPUT_LIMIT] + "\n[... output cut by the grader]\n"
        if "data" in output:
            output["data"] = {key: value for key, value in output["data"].items()
                              if len(str(value)) <= OUTPUT_LIMIT} or {"text/plain": "[output cut by the grader]"}


def _on_cell_executed(cell, execute_reply, **_) -> None:
    failed = (execute_reply or {}).get("content", {}).get("status") != "ok"
    if failed and not any(output.get("output_type") == "error" for output in cell.outputs):
        cell.outputs.append(nbformat.v4.new_output(
            "error", ename="CellFailed", evalue="the cell failed (its kernel reply says so) and printed no "
                                                 "traceback", traceback=[]))


def stand_in(test: dict) -> str:
    """The code a test cell runs instead of its own when the clean re-check ran it: print what
    the re-check's check printed, then fail with its message if it failed."""
    lines = [f"print({test.get('output', '')!r}, end='')"] if test.get("output") else []
    if not test["passed"]:
        why = str(test["why"])
        lines.append(f"raise AssertionError({why.removeprefix('AssertionError: ')!r})")
    return "\n".join(lines) or "pass"


def execute(path: str, timeout: float, answered: dict | None = None) -> dict:
    """{"complete": bool, "why": str, "notebook": the executed notebook as JSON text}.
    ``answered``: grade id -> the clean re-check's verdict of a test cell not to run again."""
    notebook = nbformat.read(path, 4)
    sources = {}                    # index -> the own source of a cell that runs a stand-in
    for index, cell in enumerate(notebook.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and answered and grade_id in answered:
            sources[index], cell.source = cell.source, stand_in(answered[grade_id])
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, on_cell_executed=_on_cell_executed,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    complete, why = True, ""
    try:
        client.execute()
    except Exception as error:       # noqa: BLE001 (a dead kernel, a timeout: the notebook did not run through)
        complete, why = False, f"{type(error).__name__}: {error}"[:1000]
    for index, source in sources.items():
        notebook.cells[index].source = source
    for cell in notebook.cells:
        if cell.cell_type == "code":
            _cut(cell)
    return {"complete": complete, "why": why, "notebook": nbformat.writes(notebook)}


def main(argv: list[str]) -> None:
    if len(argv) not in (3, 4):
        sys.exit("usage: python -P minidl/lab/execute.py NOTEBOOK CELL_TIMEOUT [ANSWERED] FD")
    report = os.fdopen(int(argv[-1]), "w")
    answered = None
    if len(argv) == 4:
        with open(argv[2]) as file:
            answered = json.load(file)
        os.remove(argv[2])                      # read before the kernel starts, and gone
    result = execute(argv[0], float(argv[1]), answered)
    report.write(json.dumps(result))
    report.close()


if __name__ == "__main__":
    main(sys.argv[1:])
