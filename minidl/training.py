"""The training loop of Algorithm 1, shared by ``Sequential.fit`` and by ``runs.fit_runs``.

One epoch: shuffle the training set, then for each batch (one sample by default)
``zero_grad`` -> ``forward`` -> loss gradient (eq. 1) -> ``backward`` -> the optimizer's step
on ``model.param()`` (eqs. 6 and 7); then multiply the step size by ``decay`` and record the
loss and accuracy on the whole training (and validation) set, in evaluation mode. The inner loop
is ``one_epoch`` below (notebook 04 writes the whole algorithm in a dozen lines): it calls
nothing but the ``Module`` interface, so any layer trains, yours included. Tensors may carry a leading run dimension: R
models train at once, each with its own data, weights and shuffling order.

``engine='fast'`` hands the inner loop of each epoch to ``minidl.engine``, which compiles the
built-in layers into fused steps with the same numbers (and refuses any other layer).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from . import engine as fast_engine
from ._checks import check_finite, check_float_tensor, check_fraction, check_int, check_positive_number
from .losses import LOSSES, ElementwiseMSE, MSE
from .optim import SGD, check_step_size, decayed_step_size
from .utils import as_targets, labels_of, torch_threads

ENGINES = ("plain", "fast")
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class History:
    """What ``fit`` returns, as in Keras.

    Attributes:
        - ``history``: ``{'loss', 'accuracy'[, 'val_loss', 'val_accuracy']}`` (``METRICS``), each
          a list with one float per epoch (the validation keys when validation data was given).
        - ``params``: the hyper-parameters of the fit (``fit_params``).
        - ``epoch``: ``[0, 1, ..., epochs - 1]``.
    """

    def __init__(self, history: dict[str, list[float]], params: dict[str, object]) -> None:
        self.history = history
        self.params = params
        self.epoch = list(range(len(history.get("loss", []))))

    def __repr__(self) -> str:
        last = {k: round(v[-1], 5) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


class DivergenceError(ArithmeticError):
    """Training produced a NaN or infinite loss (or validation loss, or weight: checked at the end
    of every epoch). The model was put back to the weights it had at the start of that epoch
    (the last finite ones).

    Attributes:
        - ``epoch``: the epoch (counted from 1) in which training stopped being finite.
        - ``history``: the epochs before it, as ``fit`` would have returned them: a dict of the
          ``History.history`` form (every key present, lists of floats, empty when the first epoch
          diverged); from ``fit_runs``, a list of such dicts, one per run.
        - ``loss``: the training loss at the end of that epoch (of the first diverged run).
    """

    def __init__(self, message: str, epoch: int,
                 history: dict[str, list[float]] | list[dict[str, list[float]]],
                 loss: float = math.nan) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.history = history
        self.loss = loss


def fit_params(*, epochs: int, step_size: float, batch_size: int, momentum: float, decay: float,
               loss) -> dict[str, object]:
    """``History.params``: the hyper-parameters of a fit, the loss by its class name. One place for
    ``Sequential.fit``, ``runs.fit_runs`` and the torch reference (``minidl.lab.compare``)."""
    return dict(epochs=epochs, step_size=step_size, batch_size=batch_size, momentum=momentum,
                decay=decay, loss=resolve_loss(loss).__name__)


def resolve_loss(loss) -> type:
    """The loss class for ``loss``: ``'mse'`` -> ``MSE``, ``'elementwise'`` -> ``ElementwiseMSE``
    (the classes themselves are accepted too); ``ValueError`` for anything else."""
    if loss in (MSE, ElementwiseMSE):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]
    raise ValueError(f"loss: expected one of {sorted(LOSSES)} (or the class MSE / ElementwiseMSE), got {loss!r}")


def check_features(model, x, xname: str) -> torch.Tensor:
    """Return ``x`` if it is a valid input for ``model``, else raise naming ``xname``.

    Shape: ``(N, in_features)``, or ``(R, N, in_features)`` for a model with R runs; N >= 1;
    the model's dtype; finite values.
    """
    lead, features = model.lead_dims, model.in_features
    check_float_tensor(x, xname, model.dtype)
    if (x.dim() != lead + 2 or (features is not None and x.shape[-1] != features)
            or (lead and x.shape[0] != model.runs)):
        want = "(N, {f})" if not lead else "(runs={r}, N, {f})"
        f = "in_features" if features is None else features
        raise ValueError(f"{xname}: expected shape {want.format(f=f, r=model.runs)}, got {tuple(x.shape)}")
    if x.shape[-2] == 0:
        raise ValueError(f"{xname}: expected at least one sample, got an empty tensor {tuple(x.shape)}")
    check_finite(x, xname)
    return x


def check_data(model, x, y, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a (features, labels) pair for ``model`` and return (x, one-hot targets).

    ``name`` is ``''`` (the arguments are called ``x``, ``y``), ``'train'`` or ``'validation'``
    (``x_train``, ``y_train``, ...). ``y``: int labels ``x.shape[:-1]`` or float one-hot targets
    ``(*x.shape[:-1], out_features)``.
    """
    xname, yname = ("x", "y") if name == "" else (f"x_{name}", f"y_{name}")
    check_features(model, x, xname)
    dtype, classes = x.dtype, output_width(model, x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{yname}: expected a torch.Tensor of labels, got {type(y).__name__}; convert it "
                        f"first, e.g. torch.as_tensor({yname}, dtype=torch.int64)")
    if y.dim() != x.dim() - (not y.is_floating_point()):     # labels (N,) or one-hot (N, C)
        hint = (f"; float labels? convert them with {yname}.long()" if y.dim() == x.dim() - 1 else
                f"; a column of labels? use {yname}.squeeze(-1)" if y.dim() == x.dim() and y.shape[-1] == 1 else
                f"; integer one-hot targets? convert them with {yname}.float()" if y.dim() == x.dim() else "")
        raise ValueError(f"{yname}: expected int64 labels of shape {tuple(x.shape[:-1])} or float one-hot "
                         f"targets of shape {(*x.shape[:-1], classes)}, got dtype {y.dtype} "
                         f"with shape {tuple(y.shape)}{hint}")
    t = as_targets(y, classes, dtype, yname)
    check_finite(t, yname)
    if t.shape[:-1] != x.shape[:-1]:
        raise ValueError(f"{xname} and {yname} must have the same number of samples, got "
                         f"{xname} {tuple(x.shape)} and {yname} {tuple(y.shape)}")
    return x, t


def output_width(model, x: torch.Tensor) -> int:
    """The number of outputs of ``model``: what its layers declare (``out_features``), or, when
    none declares a width, the width of its output for the first sample of ``x``."""
    if model.out_features is not None:
        return model.out_features
    with evaluation_mode(model):
        return model.forward(x[..., :1, :]).shape[-1]


@contextmanager
def kept_modes(model) -> Iterator[None]:
    """Run the block, then put every module of ``model`` back in the mode (training or
    evaluation) it had before."""
    modes = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for module, mode in modes:
            module.training = mode


@contextmanager
def evaluation_mode(model) -> Iterator[None]:
    """Run the block with ``model`` in evaluation mode (``eval()``), then put it back in its
    mode (``fit``'s metrics, ``predict``, ``evaluate``)."""
    with kept_modes(model):
        model.eval()
        yield


def metrics(model, x: torch.Tensor, t: torch.Tensor, loss) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy) of ``model`` on ``x`` against one-hot targets ``t``, unchecked.

    Shape: ``x`` ``(N, in)``, ``t`` ``(N, C)`` -> two tensors of shape ``()``; with R runs,
    ``(R, N, in)``, ``(R, N, C)`` -> two of shape ``(R,)``. Accuracy: the fraction of rows whose
    arg-max output is the target's class.
    """
    out = model.forward(x)
    correct = labels_of(out) == labels_of(t)
    return loss.compute_loss(out, t), correct.to(x.dtype).mean(-1)


def evaluate(model, x, y, loss="mse") -> list[dict[str, float]]:
    """``{'loss': float, 'accuracy': float}`` of every run of ``model`` on (x, y), checked: a list
    of one for a single model, of R for a model with R runs (``Sequential.evaluate`` and
    ``runs.evaluate_runs`` call this)."""
    x, t = check_data(model, x, y, "")
    with evaluation_mode(model):
        value, accuracy = metrics(model, x, t, resolve_loss(loss))
    return [dict(zip(METRICS[:2], pair)) for pair in zip(value.reshape(-1).tolist(), accuracy.reshape(-1).tolist())]


def epoch_logs(evaluate: Callable, training: tuple, validation: tuple | None = None) -> dict:
    """The end-of-epoch record ``{'loss', 'accuracy'[, 'val_loss', 'val_accuracy']}`` (``METRICS``),
    where ``evaluate(x, t)`` returns (loss, accuracy) on one set and ``training``,
    ``validation`` are ``(x, t)`` pairs (validation optional)."""
    logs = dict(zip(METRICS[:2], evaluate(*training)))
    if validation is not None:
        logs.update(zip(METRICS[2:], evaluate(*validation)))
    return logs


def shuffled_order(n: int, generators: list[torch.Generator | None], runs: int | None) -> torch.Tensor:
    """A fresh random order of the n samples (``torch.randperm``).

    Shape: ``(n,)``; with R runs ``(R, n)``, run r drawn from ``generators[r]`` (or all from
    ``generators[0]`` when only one is given).
    """
    if runs is None:
        return torch.randperm(n, generator=generators[0])
    gens = generators if len(generators) == runs else generators[:1] * runs
    return torch.stack([torch.randperm(n, generator=g) for g in gens])


def train(model, x, y, x_validation=None, y_validation=None, *, epochs: int = 100,
          step_size: float = 0.01, batch_size: int = 1, momentum: float = 0.0, decay: float = 0.9,
          loss="mse", generators: list[torch.Generator | None] = (None,),
          callback: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
          engine: str = "plain") -> list[History]:
    """Train ``model`` in place (``Sequential.fit`` and ``runs.fit_runs`` call this).

    Returns one ``History`` per run: a list of one for a single model, of R for a model with R
    runs. Every argument is checked before anything changes.

    Raises:
        ``TypeError`` / ``ValueError`` for bad input, or a model that ``engine='fast'`` cannot
        compile (the model is unchanged then); ``DivergenceError`` if the training stops being
        finite.
    """
    params = fit_params(epochs=epochs, step_size=step_size, batch_size=batch_size, momentum=momentum,
                        decay=decay, loss=loss)
    loss = resolve_loss(loss)
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {ENGINES}, got {engine!r}")
    x, t = check_data(model, x, y, "train")
    if (x_validation is None) != (y_validation is None):
        raise ValueError("x_validation and y_validation: give both or neither, got only "
                         + ("y_validation" if x_validation is None else "x_validation"))
    validation = None if x_validation is None else check_data(model, x_validation, y_validation, "validation")
    check_int(epochs, "epochs", 1)
    step_size = check_step_size(step_size)
    n = x.shape[-2]
    check_int(batch_size, "batch_size", 1, n)
    momentum = check_fraction(momentum, "momentum")
    decay = check_positive_number(decay, "decay")
    if decay > 1:
        raise ValueError(f"decay: expected a number in (0, 1] (the paper uses 0.9), got {decay!r}")
    if model.runs is not None and len(generators) not in (1, model.runs):
        raise ValueError(f"generator: expected one generator or one per run ({model.runs}), got {len(generators)}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a function callback(epoch, logs) or None, got {type(callback).__name__}")
    frozen = [i for i, (value, grad) in enumerate(model.param()) if value.is_inference() or grad.is_inference()]
    if frozen:
        raise ValueError(f"fit: parameter {frozen[0]} of model.param() was made under "
                         f"torch.inference_mode(), where torch forbids changing it afterwards; build the model "
                         f"outside inference mode (or load a copy of its state_dict() into a new one)")
    if engine == "fast":
        with torch_threads(1):      # its probe takes one step on copies of the model: on one thread, as fit trains
            run_epoch = fast_engine.compile(model, loss, batch_size=batch_size, momentum=momentum,
                                            probe=(x, t)).run_epoch
    else:
        optimizer = SGD(model.param(), momentum)     # momentum 0: the plain step, eqs. (6) and (7)
        run_epoch = lambda xs, ts, eta: one_epoch(model, loss, optimizer, xs, ts, batch_size, eta)

    with torch_threads(1), torch.no_grad(), kept_modes(model):
        history = _train_loop(model, x, t, validation, epochs, step_size, decay, loss, generators,
                              callback, run_epoch)
    return [History(h, params) for h in per_run(history, model.runs)]


def one_epoch(model, loss, optimizer: SGD, xs: torch.Tensor, ts: torch.Tensor, batch_size: int,
              eta: float) -> None:
    """The inner loop of Algorithm 1 over shuffled data: for each batch of ``batch_size`` rows
    (the last one may be smaller), forward, the loss's gradient (eq. (1)), backward, step."""
    for xb, tb in zip(xs.split(batch_size, dim=-2), ts.split(batch_size, dim=-2)):
        model.zero_grad()                        # backward adds to the gradients: start from 0
        output = model.forward(xb)               # step 1: the forward pass
        model.backward(loss.compute_grad(output, tb))    # the loss gradient, then step 2: backpropagation
        optimizer.step(eta)                      # step 3: w -= eta dl/dw for every pair of param()


def _train_loop(model, x, t, validation, epochs, step_size, decay, loss, generators, callback,
                run_epoch) -> dict[str, list[torch.Tensor]]:
    """Algorithm 1's epochs on checked arguments; returns the per-epoch ``logs`` (tensors ``()`` or ``(R,)``)."""
    n = x.shape[-2]
    params = model.param()
    history: dict[str, list[torch.Tensor]] = {k: [] for k in (METRICS if validation else METRICS[:2])}
    for epoch in range(epochs):
        eta = decayed_step_size(step_size, decay, epoch)
        last_finite = [value.clone() for value, _ in params]
        order = shuffled_order(n, generators, model.runs).unsqueeze(-1)      # line 3: shuffle
        xs, ts = x.take_along_dim(order, dim=-2), t.take_along_dim(order, dim=-2)
        model.train()
        run_epoch(xs, ts, eta)
        changed = changed_parameters(model, params)
        if changed:
            restore(params, last_finite)
            raise ValueError(changed)

        with evaluation_mode(model):
            logs = epoch_logs(lambda xe, te: metrics(model, xe, te, loss), (x, t), validation)
        diverged = not_finite(logs, params)
        if bool(diverged.any()):
            restore(params, last_finite)             # back to the last finite weights
            raise divergence_error(logs, diverged, model.runs, epoch + 1, eta, step_size, history)
        for k, v in logs.items():
            history[k].append(v)
        if callback is not None:
            callback(epoch, logs)
    return history


def changed_parameters(model, params: list[tuple[torch.Tensor, torch.Tensor]]) -> str | None:
    """Why ``model.param()`` no longer lists the tensors ``params`` (what it listed when training
    started), or None. ``fit`` steps those tensors: a layer that makes or replaces a parameter
    while training would silently not learn, so ``fit`` stops instead."""
    now = model.param()
    if len(now) == len(params) and all(a is b and g is h for (a, g), (b, h) in zip(now, params)):
        return None
    return (f"fit: model.param() listed {len(params)} (value, gradient) pairs when training started and "
            f"{len(now)} pairs, not all the same tensors, after an epoch: a layer made or replaced a parameter "
            f"while training. Create every parameter in the layer's __init__ and change it in place; the "
            f"model keeps its weights from the start of that epoch.")


def restore(params: list[tuple[torch.Tensor, torch.Tensor]], saved: list[torch.Tensor]) -> None:
    """Copy the ``saved`` values back into the parameters, in place."""
    for (value, _), old in zip(params, saved):
        value.copy_(old)


def per_run(history: dict[str, list[torch.Tensor]], runs: int | None) -> list[dict[str, list[float]]]:
    """Per-epoch metric tensors (each of shape () or (R,)) to ``History.history`` dicts of floats,
    one per run (one for a single model); a key with no epoch yet gives empty lists."""
    columns = {k: torch.stack(v).reshape(len(v), -1).T.tolist() if v else [[] for _ in range(runs or 1)]
               for k, v in history.items()}
    return [{k: c[r] for k, c in columns.items()} for r in range(runs or 1)]


def not_finite(logs: dict[str, torch.Tensor], params) -> torch.Tensor:
    """Which runs have a NaN or infinite loss, validation loss or weight, checked once per epoch.

    Shape: a bool tensor ``()``, or ``(R,)`` with R runs.

    The loss alone can miss it: a training loss of 4e37 is finite in float32 while the
    validation loss already overflows, and tanh(inf) = 1 hides an infinite weight.
    """
    bad = ~torch.isfinite(logs["loss"])
    if "val_loss" in logs:
        bad |= ~torch.isfinite(logs["val_loss"])
    for value, _ in params:
        bad |= ~torch.isfinite(value).flatten(start_dim=bad.dim()).all(-1)
    return bad


def divergence_error(logs, diverged, runs, epoch, eta, step_size, history) -> DivergenceError:
    """The error that names the epoch, the non-finite value, the step size and what to try."""
    which = "" if runs is None else f" in runs {torch.nonzero(diverged).flatten().tolist()}"
    what = "a weight is not finite"
    for key in ("loss", "val_loss"):
        if key in logs and not bool(torch.isfinite(logs[key]).all()):
            what = f"the {key.replace('val_', 'validation ')} is {logs[key][~torch.isfinite(logs[key])][0].item()}"
            break
    return DivergenceError(
        f"training diverged at epoch {epoch}{which}: {what} with step size {eta:.3g}; try a smaller "
        f"step_size (e.g. {step_size / 10:g}). The model keeps its weights from the start of epoch {epoch}.",
        epoch, per_run(history, None)[0] if runs is None else per_run(history, runs),
        logs["loss"][diverged].flatten()[0].item())


def make_generators(seed: int | None, generator) -> list[torch.Generator | None]:
    """The random streams of a fit: from ``seed``, from ``generator`` (one, or one per run), or
    torch's global generator (``[None]``) when neither is given.

    Raises:
        ``ValueError`` if both are given or ``seed`` is negative; ``TypeError`` if ``generator``
        is not a ``torch.Generator`` or a list of them.
    """
    if seed is not None and generator is not None:
        raise ValueError("fit: give seed or generator, not both")
    if seed is not None:
        check_int(seed, "seed", 0)
        return [torch.Generator().manual_seed(seed)]
    if generator is None:
        return [None]
    gens = list(generator) if isinstance(generator, (list, tuple)) else [generator]
    for g in gens:
        if not isinstance(g, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator (or a list of them), got {type(g).__name__}")
    return gens
