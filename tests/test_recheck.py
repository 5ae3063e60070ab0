"""minidl.lab.recheck, the clean re-check of make grade, without nbgrader: the rules an answer
cell must follow to run there, and the forked checks that nothing in a cell can fake."""
import json
import os
import subprocess
import sys

import pytest

from minidl.lab.recheck import OUTPUT_LIMIT, answers, code_cells, policy_problems, run_check

from helpers import course_source

SOURCE = course_source()
NOTEBOOKS = sorted(SOURCE.glob("*/*.ipynb"))
PROTECTED = {"torch", "Module", "check_linear_forward", "check_linear_backward"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_answer_of_the_sources_may_run(path):
    cells = code_cells(str(path))
    found = answers(cells, cells)
    assert found, "no answer cells"
    for grade_id, code in found.items():
        assert policy_problems(code, PROTECTED) == [], grade_id


@pytest.mark.parametrize("code, words", [
    ("check_linear_forward = lambda *a, **k: None", "assigns to check_linear_forward"),
    ("import minidl.lab.grading as g\ng.expect_close = print", "imports minidl.lab.grading"),
    ("import torch\ntorch.allclose = lambda *a, **k: True", "assigns to torch.allclose"),
    ("torch.Tensor.abs = lambda self: self", "assigns to torch.Tensor.abs"),
    ("import os\nos._exit(0)", "imports os"),
    ("setattr(torch, 'equal', None)", "uses setattr"),
    ("x = ().__class__.__base__", "uses the attribute .__class__"),
    ("g = globals()", "uses globals"),
    ("open('/tmp/x', 'w')", "uses open"),
    ("import torch._dynamo", "imports torch._dynamo (graded code may not import private modules"),
    ("from torch._C import _set_grad_enabled", "imports torch._C (graded code may not import private modules"),
    ("def f(\n", "syntax error"),
])
def test_code_that_could_reach_the_checks_may_not_run(code, words):
    problems = policy_problems(code, PROTECTED)
    assert any(words in problem for problem in problems), problems


def test_a_check_in_its_own_process_cannot_fake_a_pass():
    assert run_check("x = 1", {}, "ok", 10) == (True, "", "")
    assert run_check("raise SystemExit(0)", {}, "exit", 10)[0] is False
    passed, why, _ = run_check("import os\nos._exit(0)", {}, "os_exit", 10)
    assert not passed and "without a verdict" in why
    passed, why, _ = run_check("while True:\n    pass", {}, "loop", 1)
    assert not passed and "did not finish in 1 s" in why
    passed, why, _ = run_check("import minidl.lab.grading as g\ng.expect_close = print", {}, "patch", 10)
    assert not passed and "minidl.lab.grading.expect_close" in why
    scope = {}
    run_check("y = 2", scope, "isolated", 10)
    assert "y" not in scope            # a check's changes stay in its process


def test_a_check_reports_the_start_of_what_it_printed():
    assert run_check("print('accuracy', 0.981)\nraise AssertionError('no')", {}, "p", 10) == \
        (False, "AssertionError: no", "accuracy 0.981\n")
    assert len(run_check("print('x' * 10**6)", {}, "long", 10).output) == OUTPUT_LIMIT


def fresh_process(code: str) -> str:
    """What ``code`` prints, run in a fresh Python: one that has not imported torch._dynamo (as
    pytest's may have) and whose torch has run no threads (such a process cannot fork safely)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_torch_wrapping_its_own_functions_is_not_taken_for_a_patch():
    """The first use of torch.optim imports torch._dynamo, which wraps torch.manual_seed: a check
    that does so still passes (run again once the re-check imported it), a patch still fails it."""
    out = fresh_process(
        "import sys\n"
        "from minidl.lab.recheck import run_check\n"
        "assert 'torch._dynamo' not in sys.modules\n"
        "optim = 'p = torch.zeros(2, requires_grad=True)\\ntorch.optim.SGD([p], lr=0.1)'\n"
        "scope = {'torch': __import__('torch')}\n"
        "print(tuple(run_check(optim, dict(scope), 'optim', 30))[:2])\n"
        "print('torch._dynamo' in sys.modules)\n"
        "print(tuple(run_check(optim + '\\ntorch.manual_seed = print', dict(scope), 'patch', 30))[:2])\n")
    first, imported, patched = out.splitlines()
    assert first == "(True, '')" and imported == "True", out
    assert patched.startswith("(False,") and "torch.manual_seed" in patched, out


@pytest.mark.parametrize("assignment", ["01_layers", "03_momentum_and_batches"])
def test_the_sources_answers_pass_every_check(assignment):
    """In a fresh process, as make grade runs it (a process whose torch already ran threads, as
    pytest's has, cannot fork safely). Assignment 2 (its training test takes seconds) is graded
    in the course tests."""
    (path,) = (SOURCE / assignment).glob("*.ipynb")
    read, write = os.pipe()
    process = subprocess.Popen([sys.executable, "-m", "minidl.lab.recheck", str(path), str(path), "30", str(write)],
                               pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as report:
        verdict = json.loads(report.read())
    assert process.wait() == 0
    assert verdict["answers"] == {} and len(verdict["tests"]) == {"01_layers": 5}.get(assignment, 3)
    assert all(test["passed"] for test in verdict["tests"].values()), verdict
