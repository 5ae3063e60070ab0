"""The bad-input matrix (issue 6): every mistake a student is likely to make, one row each.

Each case is one line of code, evaluated in a fresh "world" of objects (a trained paper
model with gradients and an optimizer with non-zero velocities, single layers, data, saved
files). The test checks three things:

- the error is a ``ValueError`` or ``TypeError`` (the one listed);
- the message contains the listed fragments: the argument or layer, what was expected and
  what was received;
- nothing changed: every parameter, every stored gradient and every optimizer velocity in the
  world is ``torch.equal`` to what it was before the call.

The list doubles as documentation: ``python tests/test_bad_inputs.py`` writes
``docs/errors.md`` from it (the code, the error and the actual message of every case), and
``test_errors_table_is_current`` fails when that file is out of date.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import minidl
from minidl import (MSE, SGD, ElementwiseMSE, Linear, ReLU, Sequential, Tanh, build_data,
                    paper_model)
from minidl.runs import evaluate_runs, fit_runs, stack_models
from minidl.utils import one_hot

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


@dataclass(frozen=True)
class Case:
    area: str                    # what is being called: build_data, Linear, fit, ...
    code: str                    # the bad call, evaluated in the world of ``make_world``
    error: type                  # ValueError or TypeError
    fragments: tuple[str, ...]   # must appear in the message: argument/layer, expected, received


def make_world(tmp: str) -> dict[str, object]:
    """Fresh objects for one case. N = 40 samples, the paper's network, float32."""
    g = torch.Generator().manual_seed(0)
    x, y = build_data(40, generator=g)
    model = paper_model(generator=g)
    opt = SGD(model.param(), momentum=0.5)
    for _ in range(2):   # two real steps: gradients and velocities are non-zero
        model.zero_grad()
        model.backward(MSE.compute_grad(model.forward(x), one_hot(y, 2)))
        opt.step(0.01)
    lin, relu, tanh = Linear(2, 3, generator=g), ReLU(), Tanh()
    tanh.forward(relu.forward(lin.forward(x)))           # (40, 3) stored in each layer
    lin.backward(torch.ones(40, 3))
    other = Sequential(Linear(2, 10, generator=g), ReLU(), Linear(10, 2, generator=g))
    saved = os.path.join(tmp, "model.pt")
    model.save(saved)
    data = Path(saved).read_bytes()
    truncated = os.path.join(tmp, "truncated.pt")
    Path(truncated).write_bytes(data[: len(data) // 2])
    corrupt = os.path.join(tmp, "corrupt.pt")
    Path(corrupt).write_bytes(data[:2000] + bytes(b ^ 0xFF for b in data[2000:2100]) + data[2100:])
    stacked = stack_models([paper_model(generator=g), paper_model(generator=g)])

    class Scaled(ReLU):        # a layer of the student's own: a subclass of a built-in one
        pass
    return dict(Scaled=Scaled, torch=torch, np=np, minidl=minidl, build_data=build_data, Linear=Linear, ReLU=ReLU,
                Tanh=Tanh, Sequential=Sequential, MSE=MSE, ElementwiseMSE=ElementwiseMSE, SGD=SGD,
                paper_model=paper_model, fit_runs=fit_runs, evaluate_runs=evaluate_runs, x=x, y=y,
                model=model, opt=opt, lin=lin, relu=relu, tanh=tanh, other=other, stacked=stacked, new_linear=Linear(2, 3),
                new_relu=ReLU(), new_model=paper_model(), saved=saved, truncated=truncated,
                corrupt=corrupt, nan=float("nan"), inf=float("inf"))


L23 = "Linear(in_features=2, out_features=3)"
L225 = "Linear(in_features=2, out_features=25)"
V, T = ValueError, TypeError

CASES: list[Case] = [
    # --- build_data ---------------------------------------------------------------------
    Case("build_data", "build_data(0)", V, ("build_data n", ">= 1", "got 0")),
    Case("build_data", "build_data(100.0)", T, ("build_data n", "integer", "float 100.0")),
    Case("build_data", "build_data(10, generator=42)", T, ("build_data generator", "torch.Generator", "int")),
    Case("build_data", "build_data(10, dtype=torch.int64)", T, ("build_data dtype", "floating-point", "torch.int64")),
    # --- Linear -------------------------------------------------------------------------
    Case("Linear", "Linear(0, 3)", V, ("Linear in_features", ">= 1", "got 0")),
    Case("Linear", "Linear(2, 3, init='normal')", V, ("Linear init", "'uniform', 'xavier'", "'normal'")),
    Case("Linear", "lin.forward(x[0])", V, (L23, "2-d tensor", "1-d", "(2,)")),
    Case("Linear", "lin.forward(x.unsqueeze(0))", V, (L23, "2-d tensor", "3-d", "(1, 40, 2)")),
    Case("Linear", "lin.forward(torch.ones(40, 5))", V, (L23, "expected 2 features", "got 5")),
    Case("Linear", "lin.forward(torch.ones(40, 2, dtype=torch.int64))", T,
         (L23, "floating-point", "torch.int64", "x.float()")),
    Case("Linear", "lin.forward(x.double())", T, (L23, "torch.float32", "torch.float64", "x.to(torch.float32)")),
    Case("Linear", "lin.forward([[0.1, 0.2]])", T, (L23, "torch.Tensor", "got list", "torch.as_tensor")),
    Case("Linear", "lin.forward(np.ones((40, 2)))", T, (L23, "torch.Tensor", "got ndarray", "torch.as_tensor")),
    Case("Linear", "new_linear.backward(torch.ones(40, 3))", V, (L23 + ".backward", "forward(input)", "before")),
    Case("Linear", "lin.backward(torch.ones(40, 2))", V, (L23 + ".backward", "shape (40, 3)", "got (40, 2)")),
    Case("Linear", "lin.load_state_dict({'weight': torch.ones(3, 2)})", V, (L23, "['bias', 'weight']", "['weight']")),
    # --- ReLU, Tanh -----------------------------------------------------------------------
    Case("ReLU", "relu.forward(torch.ones(4, 3, dtype=torch.int64))", T, ("ReLU()", "floating-point", "torch.int64")),
    Case("Tanh", "tanh.forward(torch.ones(4, 3, dtype=torch.bool))", T, ("Tanh()", "floating-point", "torch.bool")),
    Case("ReLU", "relu.forward([1.0, -1.0])", T, ("ReLU()", "torch.Tensor", "got list")),
    Case("ReLU", "new_relu.backward(torch.ones(40, 3))", V, ("ReLU().backward", "forward(input)", "before")),
    Case("Tanh", "tanh.backward(torch.ones(40, 2))", V, ("Tanh().backward", "shape (40, 3)", "got (40, 2)")),
    # --- Sequential: building, forward, backward -----------------------------------------------
    Case("Sequential.add_layer", "Sequential().add_layer('relu')", T, ("add_layer", "Module", "got str")),
    Case("Sequential.add_layer", "Sequential(Linear(2, 25)).add_layer(Linear(10, 2))", V,
         ("add_layer", "Linear(in_features=10, out_features=2)", "10 input features", "outputs 25")),
    Case("Sequential.add_layer", "model.add_layer(Linear(2, 5, dtype=torch.float64))", V,
         ("add_layer", "torch.float64", "torch.float32")),
    Case("Sequential.forward", "model.forward(torch.ones(40, 3))", V, (L225, "expected 2 features", "got 3")),
    Case("Sequential.forward", "model.forward(x[0])", V, (L225, "2-d tensor", "1-d")),
    Case("Sequential.backward", "new_model.backward(torch.ones(40, 2))", V,
         ("Linear(in_features=25, out_features=2).backward", "forward(input)", "before")),
    Case("Sequential.backward", "model.backward(torch.ones(40, 3))", V,
         ("Linear(in_features=25, out_features=2).backward", "shape (40, 2)", "got (40, 3)")),
    # --- Sequential.fit: the data ------------------------------------------------------------
    Case("fit", "model.fit(x, y[:39])", V, ("x_train and y_train", "same number of samples", "(40, 2)", "(39,)")),
    Case("fit", "model.fit(x[:0], y[:0])", V, ("x_train", "at least one sample", "(0, 2)")),
    Case("fit", "model.fit(torch.where(x > 0.9, nan, x), y)", V, ("x_train", "finite", "NaN or infinite")),
    Case("fit", "model.fit(x, y, x.clone().fill_(inf), y)", V, ("x_validation", "finite", "80 NaN or infinite")),
    Case("fit", "model.fit(x, y.float())", V, ("y_train", "int64 labels of shape (40,)", "torch.float32", "y_train.long()")),
    Case("fit", "model.fit(x, y + 1)", V, ("y_train", "[0, 1]", "from 1 to 2")),
    Case("fit", "model.fit(x, y - 1)", V, ("y_train", "[0, 1]", "from -1 to 0")),
    Case("fit", "model.fit(x, torch.ones(40, 3))", V, ("y_train", "one-hot targets (N, 2)", "(40, 3)")),
    Case("fit", "model.fit(x, torch.nn.functional.one_hot(y, 2))", V,
         ("y_train", "float one-hot", "torch.int64", "(40, 2)", "y_train.float()")),
    Case("fit", "model.fit(x, y.unsqueeze(1))", V, ("y_train", "shape (40,)", "(40, 1)", "squeeze(-1)")),
    Case("fit", "model.fit(x, torch.full((40, 2), nan))", V, ("y_train", "finite", "80 NaN")),
    Case("fit", "model.fit(x, y.bool())", T, ("y_train", "int64 labels", "torch.bool")),
    Case("fit", "model.fit((x * 10).long(), y)", T, ("x_train", "floating-point", "torch.int64", "x_train.float()")),
    Case("fit", "model.fit(x.double(), y)", T, ("x_train", "torch.float32", "torch.float64")),
    Case("fit", "model.fit(x.tolist(), y)", T, ("x_train", "torch.Tensor", "got list", "torch.as_tensor(x_train")),
    Case("fit", "model.fit(x.numpy(), y.numpy())", T, ("x_train", "torch.Tensor", "got ndarray")),
    Case("fit", "model.fit(x, y.tolist())", T, ("y_train", "torch.Tensor", "got list", "dtype=torch.int64")),
    Case("fit", "model.fit(torch.ones(40, 3), y)", V, ("x_train", "(N, 2)", "(40, 3)")),
    Case("fit", "model.fit(x, y, x)", V, ("x_validation and y_validation", "both or neither", "only x_validation")),
    # --- Sequential.fit: the hyperparameters ---------------------------------------------------
    Case("fit", "model.fit(x, y, step_size=0)", V, ("step_size", "positive", "got 0")),
    Case("fit", "model.fit(x, y, step_size=-0.1)", V, ("step_size", "positive", "got -0.1")),
    Case("fit", "model.fit(x, y, step_size='0.1')", T, ("step_size", "number", "str '0.1'")),
    Case("fit", "model.fit(x, y, momentum=-0.1)", V, ("momentum", "[0, 1)", "got -0.1")),
    Case("fit", "model.fit(x, y, momentum=1.0)", V, ("momentum", "[0, 1)", "got 1.0")),
    Case("fit", "model.fit(x, y, batch_size=0)", V, ("batch_size", "between 1 and 40", "got 0")),
    Case("fit", "model.fit(x, y, batch_size=41)", V, ("batch_size", "between 1 and 40", "got 41")),
    Case("fit", "model.fit(x, y, batch_size=2.0)", T, ("batch_size", "integer", "float 2.0")),
    Case("fit", "model.fit(x, y, epochs=0)", V, ("epochs", ">= 1", "got 0")),
    Case("fit", "model.fit(x, y, decay=1.5)", V, ("decay", "(0, 1]", "1.5")),
    Case("fit", "model.fit(x, y, loss='cross_entropy')", V, ("loss", "['elementwise', 'mse']", "'cross_entropy'")),
    Case("fit", "model.fit(x, y, callback='plot')", T, ("callback", "function", "got str")),
    Case("fit", "model.fit(x, y, seed=1, generator=torch.Generator())", V, ("seed or generator", "not both")),
    Case("fit", "model.fit(x, y, seed=-1)", V, ("seed", ">= 0", "got -1")),
    Case("fit", "model.fit(x, y, engine='turbo')", V, ("engine", "('plain', 'fast')", "'turbo'")),
    Case("fit", "Sequential(Linear(2, 4), Scaled(), Linear(4, 2)).fit(x, y, engine='fast')", V,
         ("engine='fast'", "layer 1 Scaled()", "engine='plain'")),
    Case("fit", "stacked.fit(x, y)", T, ("fit", "several runs", "fit_runs")),
    Case("fit_runs", "fit_runs(model, x, y)", T, ("fit_runs", "run dimension", "model.fit")),
    Case("fit_runs", "fit_runs(stacked, x, y)", V, ("x_train", "(runs=2, N, 2)", "(40, 2)")),
    # --- predict, evaluate -------------------------------------------------------------------
    Case("predict", "model.predict(torch.ones(40, 3))", V, ("x", "(N, 2)", "(40, 3)")),
    Case("predict", "model.predict(x[0])", V, ("x", "(N, 2)", "(2,)")),
    Case("predict", "model.predict(x.tolist())", T, ("x", "torch.Tensor", "got list")),
    Case("evaluate", "model.evaluate(x, y[:10])", V, ("x and y", "same number of samples", "(10,)")),
    Case("evaluate", "model.evaluate(x.double(), y)", T, ("x", "torch.float32", "torch.float64")),
    Case("evaluate", "model.evaluate(x, y, loss='mae')", V, ("loss", "'mse'", "'mae'")),
    Case("evaluate", "stacked.evaluate(x.expand(2, 40, 2), y.expand(2, 40))", T,
         ("evaluate", "several runs (2)", "minidl.runs.evaluate_runs")),
    Case("evaluate_runs", "evaluate_runs(model, x, y)", T, ("evaluate_runs", "run dimension", "model.evaluate")),
    # --- the losses ---------------------------------------------------------------------------
    Case("MSE", "MSE.compute_loss(torch.ones(40, 1), torch.ones(40))", V, ("same shape", "(40, 1)", "(40,)")),
    Case("MSE", "MSE.compute_grad(torch.ones(40, 1), torch.ones(40))", V, ("same shape", "(40, 1)", "(40,)")),
    Case("ElementwiseMSE", "ElementwiseMSE.compute_loss(torch.ones(40, 2), torch.ones(40, 3))", V,
         ("same shape", "(40, 2)", "(40, 3)")),
    Case("MSE", "MSE.compute_loss(torch.ones(40), torch.ones(40))", V, ("(N, C)", "(40,)")),
    Case("MSE", "MSE.compute_loss(torch.ones(40, 2), torch.ones(40, 2, dtype=torch.float64))", T,
         ("same dtype", "torch.float32", "torch.float64")),
    Case("MSE", "MSE.compute_loss(torch.ones(40, 2, dtype=torch.int64), torch.zeros(40, 2, dtype=torch.int64))", T,
         ("floating-point", "torch.int64")),
    Case("MSE", "MSE.compute_loss([[1.0, 0.0]], torch.ones(1, 2))", T, ("predictions", "torch.Tensor", "got list")),
    # --- the optimizer ------------------------------------------------------------------------
    Case("SGD", "SGD(model.param(), momentum=1.0)", V, ("momentum", "[0, 1)", "got 1.0")),
    Case("SGD", "SGD(model.param(), momentum=-0.1)", V, ("momentum", "[0, 1)", "got -0.1")),
    Case("SGD", "SGD(model.param(), momentum='0.9')", T, ("momentum", "number", "str '0.9'")),
    Case("SGD", "SGD(model, momentum=0.9)", T, ("SGD params", "(value, gradient) tensor pairs", "model.param()",
                                                 "got Sequential")),
    Case("SGD", "SGD([lin.weight, lin.bias])", T, ("SGD params", "(value, gradient) tensor pairs", "got list")),
    # --- saving and loading -----------------------------------------------------------------------
    Case("load_state_dict", "model.load_state_dict(other.state_dict())", V,
         ("load_state_dict", "layer 0", L225, "0.weight of shape (25, 2)", "(10, 2)")),
    Case("load_state_dict", "model.load_state_dict({k: v for k, v in model.state_dict().items() if k[0] != '6'})", V,
         ("load_state_dict", "7 layers", "missing ['6.bias', '6.weight']")),
    Case("load_state_dict", "model.load_state_dict({**model.state_dict(), '0.weight': torch.ones(10, 2)})", V,
         ("layer 0", L225, "0.weight of shape (25, 2)", "(10, 2)")),
    Case("load_state_dict", "model.load_state_dict({k: v.long() for k, v in model.state_dict().items()})", T,
         ("load_state_dict", "floating-point", "torch.int64")),
    Case("load_state_dict", "model.load_state_dict([1, 2])", T, ("load_state_dict", "dict", "got list")),
    Case("load", "other.load(saved)", V,
         ("load", "layer 0", L225, "Linear(in_features=2, out_features=10)", "7 layers", "this one 3")),
    Case("load", "model.load(truncated)", V, ("load", "truncated.pt", "not a readable minidl model file", "truncated")),
    Case("load", "model.load(corrupt)", V, ("load", "corrupt.pt", "CRC")),
]


def message_of(case: Case, world: dict[str, object]) -> BaseException | None:
    try:
        eval(case.code, world)
    except Exception as error:   # noqa: BLE001 - the test inspects whatever came out
        return error
    return None


def snapshot(world: dict[str, object]) -> list[torch.Tensor]:
    """Every parameter, gradient and optimizer velocity in the world, copied."""
    tensors = []
    for name, value in sorted(world.items()):
        if isinstance(value, minidl.Module):
            tensors += [t.clone() for pair in value.param() for t in pair]
        if isinstance(value, SGD):
            tensors += [v.clone() for v in value.velocities]
    return tensors


@pytest.fixture
def tmp(tmp_path) -> str:
    return str(tmp_path)


def test_matrix_is_large_enough():
    assert len(CASES) >= 25
    assert len({c.code for c in CASES}) == len(CASES), "duplicate cases"
    assert {c.error for c in CASES} == {ValueError, TypeError}


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_bad_input(case: Case, tmp: str):
    world = make_world(tmp)
    before = snapshot(world)
    error = message_of(case, world)
    assert error is not None, f"{case.code} raised nothing"
    assert type(error) is case.error, f"{case.code} raised {type(error).__name__}: {error}"
    missing = [f for f in case.fragments if f not in str(error)]
    assert not missing, f"{case.code}: message {str(error)!r} lacks {missing}"
    after = snapshot(world)
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after)), \
        f"{case.code} changed a weight, a gradient or an optimizer velocity"


def test_the_world_is_not_trivial(tmp: str):
    """The unchanged-state check means something: gradients and velocities are non-zero."""
    world = make_world(tmp)
    assert any(bool(g.abs().sum() > 0) for _, g in world["model"].param())
    assert all(bool(v.abs().sum() > 0) for v in world["opt"].velocities)


def test_a_valid_call_in_the_same_world_does_change_the_weights(tmp: str):
    """Guard against a snapshot that cannot see changes."""
    world = make_world(tmp)
    before = snapshot(world)
    eval("model.fit(x, y, epochs=1, seed=0)", world)
    assert not all(torch.equal(a, b) for a, b in zip(before, snapshot(world)))


# --- docs/errors.md, generated from CASES -------------------------------------------------------
POLICY = """\
# Errors: what minidl says when it is given bad input

Generated by `python tests/test_bad_inputs.py` from the case list of `tests/test_bad_inputs.py`
(each row is one parametrised test; `test_errors_table_is_current` fails if this file is stale).
Do not edit by hand.

## Policy

- **Every user mistake raises `ValueError` or `TypeError`**, before anything is changed: after
  the error, the model's weights, its stored gradients and the optimizer's velocities are exactly
  what they were (each test compares them with `torch.equal`). `TypeError` means the wrong kind
  of thing (a list, an integer tensor, a string); `ValueError` the right kind with a wrong value
  (a shape, a range, NaN). The message names the argument or the layer, what was expected and
  what was received.
- **Non-tensors are refused, not converted.** Lists and numpy arrays raise `TypeError` with the
  conversion to use: `torch.as_tensor(x, dtype=torch.float32)`. Converting silently would hide a
  dtype choice from the student.
- **Integer feature tensors are refused** with `TypeError` and the hint `x.float()`; a float64
  tensor given to a float32 model is refused with the hint `x.to(torch.float32)`. Nothing is
  cast silently.
- **Labels** are int64 (any integer dtype is accepted) of shape `(N,)` with values in
  `[0, C-1]`, or float one-hot targets of shape `(N, C)` (cast to the model's dtype). Float
  labels, integer one-hot targets and a `(N, 1)` column are refused with the conversion to use.
- **No silent broadcasting** in the losses: an `(N, 1)` and an `(N,)` are refused, they are not
  subtracted into an `(N, N)`.
- **`fit` checks everything once, up front** (data, shapes, finiteness, hyperparameters), then
  runs the loop without per-step checks. The low-level per-step pieces (`Module.gradient_step`,
  `SGD.step`, `MSE.compute_grad`) check only what is free there (shapes), so a call made by hand
  with, say, a negative step size is the caller's responsibility.
- **Divergence** is not bad input: a NaN or infinite loss, validation loss or weight at the end
  of an epoch of `fit` raises `minidl.DivergenceError` (an `ArithmeticError`) naming the epoch
  and the step size and suggesting a smaller one; the model keeps the finite weights it had at
  the start of that epoch (`tests/test_divergence.py`).
- **Files** (`minidl/saving.py`): `Sequential.load` raises `ValueError` for a truncated, corrupt
  (the zip CRCs, and a CRC-32 of the weights that `save` writes) or foreign file, and for a file
  saved from another architecture, naming the first layer that differs; a missing file raises the
  usual `FileNotFoundError`. `Sequential.save` into a folder that does not exist raises
  `FileNotFoundError` naming the path; it writes a temporary file and renames it, so a failed or
  interrupted save leaves the old file whole (`tests/test_save_load.py`).

## The cases

Names used in the code column: `x, y = build_data(40)`; `model` is the paper's network after two
steps of momentum SGD (`opt`); `lin = Linear(2, 3)`, `relu`, `tanh` have seen a forward pass of
`x`; `new_linear`, `new_relu`, `new_model` have not; `other` is a 2-10-2 network; `stacked` holds
two runs; `saved`, `truncated`, `corrupt` are files written by `model.save`.

| # | where | code | error | message |
| --- | --- | --- | --- | --- |
"""


def errors_table() -> str:
    rows = []
    tmp = tempfile.mkdtemp()
    try:
        for i, case in enumerate(CASES, 1):
            error = message_of(case, make_world(tmp))
            text = "(no error)" if error is None else str(error).replace(tmp + os.sep, "")
            text = text.replace("|", "\\|").replace("\n", " ")
            kind = "(none)" if error is None else type(error).__name__
            rows.append(f"| {i} | {case.area} | `{case.code}` | {kind} | {text} |")
    finally:
        shutil.rmtree(tmp)
    return POLICY + "\n".join(rows) + "\n"


def test_errors_table_is_current():
    assert DOCS.exists(), "docs/errors.md is missing: run python tests/test_bad_inputs.py"
    assert DOCS.read_text() == errors_table(), "docs/errors.md is stale: run python tests/test_bad_inputs.py"


if __name__ == "__main__":
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(errors_table())
    print(f"wrote {DOCS} ({len(CASES)} cases)", file=sys.stderr)
