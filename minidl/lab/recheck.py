"""The clean re-check: a submission's graded functions, checked where the student's code cannot
reach the checks (``python -m minidl.lab.recheck SOURCE SUBMITTED CELL_TIMEOUT FD``).

In the notebook that nbgrader executes, the student's cells and the locked test cells share one
Python process: an answer cell can rebind ``check_linear_forward``, patch ``minidl.lab.grading``
or ``torch``, silence tracebacks or end the kernel. Here, in a fresh process, only the code of
the submission's *answer cells* (those the source marks ``solution: true``) is taken from the
submitted notebook; every other cell comes from the source (``course/source/``), hidden tests
included. The graded test cells then run as follows:

- each answer cell is first read, not run: code that imports anything but ``torch``, ``math``
  and ``minidl``'s framework (or a private module of theirs, such as ``torch._dynamo``), calls
  ``setattr``/``exec``/``globals``/``open``..., touches dunder attributes, or assigns to an
  attribute of a module or of a name the locked cells define (``torch.allclose = ...``,
  ``check_linear_forward = ...``) is not run (``policy_problems``): the functions it defines
  are missing, so their checks fail, and the reason is reported;
- a test cell runs in the names the locked cells bound, put back on top of the answers';
- each test cell runs in its own forked child (``run_check``), killed after the cell time
  limit: a loop, ``SystemExit``, a crash or a patch in one check cannot touch another; a check
  passes only if the child reports so, and reports that no function of ``torch``, ``minidl``
  or ``builtins`` was replaced while it ran. One replacement is torch's own: the first import
  of ``torch._dynamo`` (torch.optim imports it when first used) wraps ``torch.manual_seed``.
  So a check whose child imported it runs again, in a new child, once this process has
  imported it too (1 s of CPU, paid only by the checks that need it, not by every re-check);
- the student's prints go to /dev/null, but a test cell's (its first ``OUTPUT_LIMIT``
  characters) go into its verdict, with its time: ``make grade`` shows a slow test cell's
  output and verdict in the notebook instead of running it a second time there
  (``minidl.lab.regrade``); the verdict (JSON: grade id -> passed, why, output, seconds) goes to
  the file descriptor ``FD`` that the caller reads.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import json
import os
import select
import signal
import sys
import time
from typing import NamedTuple

import torch

import minidl
import minidl.lab.grading   # noqa: F401 (imported before any student code: the checks, unpatched)

ALLOWED_IMPORTS = ("torch", "math", "minidl")
FORBIDDEN_NAMES = {"setattr", "delattr", "getattr", "globals", "locals", "vars", "exec", "eval", "compile",
                   "__import__", "open", "breakpoint", "exit", "quit", "get_ipython"}
FORBIDDEN_ATTRIBUTES = {"sys", "os", "modules", "builtins", "_exit", "system", "popen", "f_globals", "f_locals",
                        "f_back", "f_builtins", "gi_frame", "cr_frame", "ag_frame", "tb_frame", "subprocess"}
MESSAGE_LIMIT = 2000
OUTPUT_LIMIT = 10_000       # characters of a check's printed output kept


def code_cells(path: str) -> list[tuple[dict, str]]:
    """(nbgrader metadata, source) of every code cell of the notebook at ``path``."""
    with open(path) as file:
        notebook = json.load(file)
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no list of cells)")
    cells = []
    for cell in notebook["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            meta = cell.get("metadata", {}).get("nbgrader", {})
            cells.append((meta if isinstance(meta, dict) else {},
                          "".join(source) if isinstance(source, list) else str(source)))
    return cells


def answers(source: list[tuple[dict, str]], submitted: list[tuple[dict, str]]) -> dict[str, str]:
    """grade id -> the submitted code of every answer cell the source has (the first cell of that
    id that is still an answer cell; a deleted answer cell is missing)."""
    wanted = {meta["grade_id"] for meta, _ in source if meta.get("solution") and "grade_id" in meta}
    found: dict[str, str] = {}
    for meta, code in submitted:
        grade_id = meta.get("grade_id")
        if meta.get("solution") and grade_id in wanted and grade_id not in found:
            found[grade_id] = code
    return found


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _stores(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.Delete)):
            yield from node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
                               ast.comprehension)):
            yield node.target
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield from (item.optional_vars for item in node.items if item.optional_vars is not None)


def policy_problems(code: str, protected: set[str]) -> list[str]:
    """What in an answer cell's ``code`` graded code may not do (empty: it may run here).
    ``protected``: the names the locked cells bind (the checks, ``torch``, ...)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return [f"line {error.lineno}: syntax error: {error.msg}"]
    problems, imported = [], set()
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if node.__class__ is ast.ImportFrom and node.level or module.split(".")[0] not in ALLOWED_IMPORTS \
                        or module.startswith("minidl.lab"):
                    problems.append(f"line {line}: imports {module or '.'} (graded code may import only "
                                    f"torch, math and minidl)")
                elif any(part.startswith("_") for part in module.split(".")):
                    problems.append(f"line {line}: imports {module} (graded code may not import private "
                                    f"modules, those named with a leading _)")
            imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or node.id.startswith("__")):
            problems.append(f"line {line}: uses {node.id}")
        elif isinstance(node, ast.Attribute) and (node.attr in FORBIDDEN_ATTRIBUTES or node.attr.startswith("__")):
            problems.append(f"line {line}: uses the attribute .{node.attr}")
    for target in _stores(tree):
        for element in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
            root = _root(element)
            if root in protected or root in imported and not isinstance(element, ast.Name):
                problems.append(f"line {element.lineno}: assigns to {ast.unparse(element)} (a name of the "
                                f"locked cells or a module: graded code may not change them)")
    return problems


def _state() -> dict[tuple[str, str], int]:
    """id of every attribute of the modules of torch, minidl and builtins, and of the classes
    minidl defines and torch.Tensor: what a patch would change."""
    state = {}
    spaces = [(name, vars(module)) for name, module in list(sys.modules.items())
              if name == "torch" or name == "minidl" or name.startswith("minidl.")]
    spaces += [("builtins", vars(builtins)), ("torch.Tensor", vars(torch.Tensor)),
               ("torch._C.TensorBase", vars(torch._C.TensorBase))]
    for name, space in list(spaces):
        for key, value in list(space.items()):
            if isinstance(value, type) and value.__module__.startswith("minidl"):
                spaces.append((f"{name}.{key}", vars(value)))
    for name, space in spaces:
        for key, value in list(space.items()):
            state[name, key] = id(value)
    return state


class OutOfTime(BaseException):
    """An answer cell's own code (run once, to define its functions) ran past the time limit."""


def _out_of_time(signum, frame):
    raise OutOfTime("the answer cell's code did not finish in time")


def _first_lines(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text[:MESSAGE_LIMIT]


DYNAMO = "torch._dynamo"            # imported only if a check needs it (run_check)


class Check(NamedTuple):
    """A check's verdict: passed or why not, and the first ``OUTPUT_LIMIT`` characters it printed."""
    passed: bool
    why: str
    output: str = ""


class _FirstCharacters:
    """A stand-in for ``sys.stdout`` that keeps the first ``limit`` characters written to it."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.left = limit

    def write(self, text: str) -> int:
        if self.left > 0:
            self.parts.append(str(text)[:self.left])
            self.left -= len(self.parts[-1])
        return len(text)

    def flush(self) -> None:
        pass


def run_check(code: str, scope: dict, name: str, timeout: float) -> Check:
    """Run a test cell's ``code`` in ``scope`` in a forked child: its ``Check``. If the child
    imported ``torch._dynamo`` (which wraps ``torch.manual_seed``), import it here and run the
    check again in a new child, whose patch check then knows torch's own wrapping."""
    check, imported = _run_check_once(code, scope, name, timeout)
    if imported and DYNAMO not in sys.modules:
        importlib.import_module(DYNAMO)     # torch's own wrapping: now part of the state each check compares with
        check, _ = _run_check_once(code, scope, name, timeout)
    return check


def _run_check_once(code: str, scope: dict, name: str, timeout: float) -> tuple[Check, bool]:
    """``run_check``'s one child: its ``Check``, and whether it imported ``torch._dynamo``."""
    had_dynamo = DYNAMO in sys.modules
    before = _state()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                          # the child: run, report, exit
        os.close(read)
        printed = sys.stdout = _FirstCharacters(OUTPUT_LIMIT)
        try:
            exec(compile(code, f"<test cell {name}>", "exec"), scope)
            changed = [f"{space}.{key}" for (space, key), ident in _state().items()
                       if before.get((space, key), ident) != ident and key != "__warningregistry__"]
            verdict = [False, f"the code under test replaced {', '.join(sorted(changed)[:5])}"] if changed \
                else [True, ""]
        except BaseException as error:                    # noqa: BLE001 (SystemExit too: the check failed)
            verdict = [False, _first_lines(error)]
        verdict += ["".join(printed.parts), not had_dynamo and DYNAMO in sys.modules]
        os.write(write, json.dumps(verdict).encode())
        os._exit(0)
    os.close(write)
    data, deadline = b"", time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and select.select([read], [], [], left)[0]:
        chunk = os.read(read, 65536)
        if not chunk:
            break
        data += chunk
    timed_out = time.monotonic() >= deadline
    os.close(read)
    os.kill(pid, signal.SIGKILL) if timed_out else None
    os.waitpid(pid, 0)
    if timed_out:
        return Check(False, f"the check did not finish in {timeout:g} s"), False
    try:
        passed, why, output, imported = json.loads(data)
    except (ValueError, TypeError):
        return Check(False, "the check ended without a verdict (the process exited or crashed)"), False
    return Check(passed is True, str(why), str(output)[:OUTPUT_LIMIT]), imported is True


def recheck(source_path: str, submitted_path: str, timeout: float) -> dict:
    """The verdict of every graded test cell of the source, on the submission's answer cells:
    {"tests": {grade id: {"passed": bool, "why": str, "output": what it printed, "seconds": its
    time}}, "answers": {grade id: problem}}."""
    source = code_cells(source_path)
    submitted = answers(source, code_cells(submitted_path))
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    trusted: dict = {}
    tests, problems = {}, {}
    for meta, code in source:
        grade_id = meta.get("grade_id", "")
        if meta.get("solution"):
            answer = submitted.get(grade_id)
            found = ["the answer cell is missing from the submission"] if answer is None else \
                policy_problems(answer, set(trusted))
            if not found:
                try:
                    signal.alarm(max(1, round(timeout)))
                    exec(compile(answer, f"<answer cell {grade_id}>", "exec"), namespace)
                except BaseException as error:           # noqa: BLE001 (the answer's fault: its checks fail)
                    found = [f"running it raised {_first_lines(error)}"]
                finally:
                    signal.alarm(0)
            if found:
                problems[grade_id] = "; ".join(found)
        elif meta.get("grade") and meta.get("points"):
            start = time.monotonic()
            check = run_check(code, {**namespace, **trusted}, grade_id, timeout)
            tests[grade_id] = {**check._asdict(), "seconds": round(time.monotonic() - start, 3)}
        elif meta.get("locked"):
            scope = {**namespace, **trusted}
            exec(compile(code, f"<locked cell {grade_id}>", "exec"), scope)
            bound = {key: value for key, value in scope.items()
                     if key not in namespace or namespace[key] is not value}
            trusted.update(bound)
            namespace.update(bound)
    return {"tests": tests, "answers": problems}


def main(argv: list[str]) -> None:
    if len(argv) != 4:
        sys.exit("usage: python -m minidl.lab.recheck SOURCE.ipynb SUBMITTED.ipynb CELL_TIMEOUT FD")
    source_path, submitted_path, timeout, fd = argv[0], argv[1], float(argv[2]), int(argv[3])
    report = os.fdopen(fd, "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)                                   # the student's prints go nowhere
    os.dup2(devnull, 2)
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _out_of_time)
    report.write(json.dumps(recheck(source_path, submitted_path, timeout)))
    report.close()


if __name__ == "__main__":
    main(sys.argv[1:])
