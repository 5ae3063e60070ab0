"""The layout shows the architecture: ``minidl/*.py`` is the framework, ``minidl/lab/`` what
the notebooks, tests and benchmarks use around it. The framework never imports the lab, and
its code never touches torch.nn, torch.optim or autograd."""
import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "minidl"
FRAMEWORK = sorted(PACKAGE.glob("*.py"))
BANNED = ("torch.nn", "torch.optim", "torch.autograd", "torch.func")


def imported_modules(path: pathlib.Path) -> list[str]:
    """Every module ``path`` imports, absolute (relative imports resolved inside ``minidl``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "minidl" if node.level == 1 else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            out += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return out


def test_the_framework_is_the_top_level_of_the_package():
    names = {p.stem for p in FRAMEWORK}
    assert {"module", "layers", "losses", "optim", "sequential", "training", "utils"} <= names
    assert not names & {"gradcheck", "compare", "plots", "experiments", "studies", "playground", "reproduce"}


@pytest.mark.parametrize("path", FRAMEWORK, ids=lambda p: p.name)
def test_the_framework_imports_nothing_from_the_lab(path):
    lab = [m for m in imported_modules(path) if m == "minidl.lab" or m.startswith("minidl.lab.")]
    assert not lab, f"minidl/{path.name} imports {lab}: the framework must not depend on minidl.lab"


def test_importing_the_framework_loads_no_lab_module():
    code = "import sys, minidl; print(sorted(m for m in sys.modules if m.startswith('minidl.lab')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", FRAMEWORK, ids=lambda p: p.name)
def test_the_framework_uses_no_torch_nn_or_autograd(path):
    """The framework's code (not its docstrings) never touches torch.nn, torch.optim or autograd."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            dotted = ast.unparse(node)
            assert not dotted.startswith(BANNED), f"minidl/{path.name} uses {dotted}"
            assert node.attr not in ("requires_grad", "requires_grad_", "grad_fn"), f"minidl/{path.name} uses {dotted}"
    modules = imported_modules(path)
    assert not any(m.startswith(BANNED) for m in modules), f"minidl/{path.name} imports {modules}"
