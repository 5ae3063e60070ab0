"""The layout shows the architecture: ``minidl/*.py`` is the framework, ``minidl/lab/`` what
the notebooks, tests and benchmarks use around it. The framework never imports the lab, and
its code never touches torch.nn, torch.optim or autograd."""
import ast
import io
import pathlib
import subprocess
import sys
import tokenize

import pytest

from minidl import Linear, ReLU, Sequential, Tanh

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "minidl"
FRAMEWORK = sorted(PACKAGE.glob("*.py"))
ENGINE = sorted((PACKAGE / "engine").glob("*.py"))
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


@pytest.mark.parametrize("path", FRAMEWORK + ENGINE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_framework_uses_no_torch_nn_or_autograd(path):
    """The framework's code (not its docstrings) never touches torch.nn, torch.optim or autograd."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            dotted = ast.unparse(node)
            assert not dotted.startswith(BANNED), f"minidl/{path.name} uses {dotted}"
            assert node.attr not in ("requires_grad", "requires_grad_", "grad_fn"), f"minidl/{path.name} uses {dotted}"
    modules = imported_modules(path)
    assert not any(m.startswith(BANNED) for m in modules), f"minidl/{path.name} imports {modules}"


def comment_lines(fragment: str) -> list[str]:
    """``file:line`` of every comment (code, not docstrings) in the package that holds ``fragment``."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if token.type == tokenize.COMMENT and fragment in token.string:
                out.append(f"{path.relative_to(PACKAGE.parent)}:{token.start[0]}")
    return out


@pytest.mark.parametrize("equation", ["eq. (1)", "eq. (2)", "eq. (3)", "eq. (4)", "eq. (5)", "eq. (6)", "eq. (7)"])
def test_each_equation_is_one_line_of_code(equation):
    """The step of eqs. (6) and (7) is written once (minidl.optim.gradient_step), as are the
    backward equations: a student finds each of them by grep on one line."""
    assert len(comment_lines(equation)) == 1, f"{equation} is marked on {comment_lines(equation)}"


def test_no_layer_writes_its_own_gradient_step():
    """The step is Module's (the optimizer's); zeroing is Module's too, and Sequential only hands
    it on to each layer's own zero_grad (a layer you write may reset more than param())."""
    for cls in (Linear, ReLU, Tanh, Sequential):
        assert "gradient_step" not in vars(cls), cls.__name__
    for cls in (Linear, ReLU, Tanh):
        assert "zero_grad" not in vars(cls), cls.__name__


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_are_at_the_top_of_every_module(path):
    """No import hides inside a function: the package has no import cycle that would need one,
    and a reader sees every dependency of a file in its first lines."""
    inside = [f"line {node.lineno}: {ast.unparse(node)}"
              for function in ast.walk(ast.parse(path.read_text()))
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not inside, f"{path.relative_to(PACKAGE.parent)} imports inside a function: {inside}"


def test_the_training_loop_knows_only_the_module_interface():
    """training.py names no layer class and calls no private method: whatever it does works for
    any Module a student writes (the speed is minidl.engine's, opt-in)."""
    tree = ast.parse((PACKAGE / "training.py").read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert not (names | attributes | imported) & {"Linear", "ReLU", "Tanh", "Activation", "Sequential"}
    private = sorted(a for a in attributes if a.startswith("_") and not a.endswith("__"))
    assert not private, f"training.py calls private methods: {private}"
    assert "inference_mode" not in attributes and "record" not in names | attributes


@pytest.mark.parametrize("name", ["layers.py", "losses.py"])
def test_the_maths_has_one_form(name):
    """The code students read writes each equation once, with fresh tensors: no out= buffers
    and no in-place variants of the maths (gradients still accumulate with +=)."""
    tree = ast.parse((PACKAGE / name).read_text())
    keywords = {kw.arg for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords}
    assert "out" not in keywords and "in_place" not in keywords
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    in_place = sorted(c for c in calls if c.endswith("_") and not c.endswith("__") and not c.startswith("self."))
    assert set(in_place) <= {"self.weight.uniform_", "self.bias.uniform_", "self.bias.zero_", "value.copy_"}, in_place
