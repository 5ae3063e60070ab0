"""``Sequential``: a multi-layer perceptron as a list of layers (Section IV), with the
Keras-like ``fit`` / ``predict`` / ``evaluate`` / ``summary``.

It is the container and its public face only: the training loop is ``training.py``, the
update ``optim.py``, the file format ``saving.py``, many runs at once ``runs.py``.
"""
from __future__ import annotations

import os

import torch

from . import saving
from .layers import Linear
from .module import Module
from .training import History, check_data, check_features, evaluate, evaluation_mode, make_generators, train
from .utils import labels_of


class Sequential(Module):
    """Layers applied one after the other: ``forward`` runs them in order, ``backward`` in
    reverse order (backpropagation, Section III-B). Itself a ``Module``, so it can be nested.

    Shape:
        - input: ``(N, in_features)``, or ``(R, N, in_features)`` when its Linears have ``runs=R``
        - output: ``(N, out_features)``, or ``(R, N, out_features)``

    Parameters: those of its layers, in order (``param()``, ``state_dict()`` with keys
    ``'<position>.weight'``, ...).

    Any ``Module`` can be a layer, a built-in one or one you write. The model learns its sizes,
    runs and dtype from what its layers declare (``Module``'s docstring): ``in_features`` of
    the first layer that declares it, then each layer's ``output_features``. A layer that
    declares nothing keeps the width if it has no parameters (an activation); one with
    parameters may change it, so the model does not check the width there (``fit`` then learns
    the number of outputs from a forward pass).

    >>> model = Sequential(Linear(2, 25), ReLU(), Linear(25, 25), ReLU(),
    ...                    Linear(25, 25), Tanh(), Linear(25, 2))
    """

    def __init__(self, *layers: Module) -> None:
        self.layers: list[Module] = []
        for layer in layers:
            self.add_layer(layer)

    # --- building ------------------------------------------------------------------------
    def add_layer(self, layer: Module) -> "Sequential":
        """Append ``layer`` and return the model.

        Raises:
            ``TypeError`` if ``layer`` is not a ``Module``; ``ValueError`` if the input size, runs
            or dtype it declares do not fit the model so far (or it is the model itself).
        """
        if not isinstance(layer, Module):
            raise TypeError(f"add_layer: expected a minidl Module (Linear, ReLU, Tanh, or your own "
                            f"subclass of minidl.Module), got {type(layer).__name__}")
        if layer is self:
            raise ValueError("add_layer: a Sequential cannot contain itself")
        width, takes = self.out_features, _declared(layer, "in_features")
        if width is not None and takes is not None and takes != width:
            raise ValueError(f"add_layer: {layer!r} takes {takes} input features, but the model so far "
                             f"outputs {width} (its last layer {self.layers[-1]!r})")
        for what, mine, its in (("runs", self.runs, _declared(layer, "runs")),
                                ("dtype", self.dtype, _dtype(layer))):
            if mine is not None and its is not None and mine != its:
                raise ValueError(f"add_layer: {layer!r} has {what}={its}; the model so far has {what}={mine}")
        self.layers.append(layer)
        return self

    def named_layers(self, prefix: str = "") -> list[tuple[str, Module]]:
        """Every layer that is not itself a ``Sequential``, in order, with its position: ``'0'``,
        ``'1'``, ..., and ``'1.0'``, ``'1.1'`` inside a nested ``Sequential`` at position 1 (the
        prefixes of ``state_dict``'s keys)."""
        out = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Sequential):
                out += layer.named_layers(f"{prefix}{i}.")
            else:
                out.append((f"{prefix}{i}", layer))
        return out

    @property
    def linears(self) -> list[Linear]:
        """The built-in ``Linear`` layers, in order, nested ones included (for the notebooks'
        read-outs; training never asks which type a layer is)."""
        return [layer for _, layer in self.named_layers() if isinstance(layer, Linear)]

    # What the layers declare: sizes, runs and dtype (None when no layer declares it).
    @property
    def in_features(self) -> int | None:
        """Input features: the ``in_features`` of the first layer that declares it, unless a layer
        with parameters that declares nothing comes before it (it may change the width)."""
        for _, layer in self.named_layers():
            declared = _declared(layer, "in_features")
            if declared is not None or _may_change_width(layer):
                return declared
        return None

    @property
    def out_features(self) -> int | None:
        """Output features: ``in_features`` carried through every layer (``output_features``);
        None where a layer with parameters declares no width."""
        width = self.in_features
        for _, layer in self.named_layers():
            declared = _declared(layer, "out_features")
            if declared is not None:
                width = declared
            elif _may_change_width(layer):
                width = None
            elif width is not None:
                width = layer.output_features(width)
        return width

    @property
    def runs(self) -> int | None:
        """R for a model of R stacked runs (``minidl.runs``), None for one network."""
        return next((r for _, layer in self.named_layers() if (r := _declared(layer, "runs")) is not None), None)

    @property
    def lead_dims(self) -> int:
        """Dimensions before ``(N, features)`` in the data: 1 with runs, else 0."""
        return 0 if self.runs is None else 1

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype of the parameters (and of the data the model takes); None without any."""
        return _dtype(self)

    # --- the Module interface --------------------------------------------------------------
    def forward(self, model_input: torch.Tensor) -> torch.Tensor:
        x = model_input
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_wrt_output: torch.Tensor) -> torch.Tensor:
        g = grad_wrt_output
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return g

    def param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [pair for layer in self.layers for pair in layer.param()]

    def zero_grad(self) -> None:
        """Every layer's own ``zero_grad`` (a layer you write may reset more than ``param()``)."""
        for layer in self.layers:
            layer.zero_grad()

    def modules(self) -> list[Module]:
        """The model, then every layer, nested ``Sequential`` models and their layers included."""
        return [self] + [module for layer in self.layers for module in layer.modules()]

    def train(self, mode: bool = True) -> "Sequential":
        """Training mode (``mode=False``: evaluation mode) for the model and every layer."""
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def output_features(self, input_features: int) -> int:
        for layer in self.layers:
            input_features = layer.output_features(input_features)
        return input_features

    # --- training and using ------------------------------------------------------------------
    def fit(self, x_train: torch.Tensor, y_train: torch.Tensor,
            x_validation: torch.Tensor | None = None, y_validation: torch.Tensor | None = None, *,
            epochs: int = 100, step_size: float = 0.01, batch_size: int = 1, momentum: float = 0.0,
            decay: float = 0.9, loss="mse", seed: int | None = None,
            generator: torch.Generator | None = None, callback=None, engine: str = "plain") -> History:
        """Train with SGD (Algorithm 1) and return a Keras-like ``History``.

        - ``batch_size=1`` (default): per-sample SGD; ``batch_size=k``: batch gradient descent
          on the mean gradient of k samples.
        - ``step_size`` is multiplied by ``decay`` after each epoch (0.9 in the paper; 1 keeps
          it constant). The default 0.01 is the paper's experiments' value: the paper's
          signature shows 0.1, with which this network diverges under the paper's own loss.
        - ``momentum=beta`` uses the paper's EMA momentum (``minidl.optim.SGD``).
        - ``loss='mse'`` is the paper's formula, ``'elementwise'`` the per-element mean.
        - ``y`` may be int labels ``(N,)`` or one-hot targets ``(N, C)``; validation is optional.
        - ``seed`` or ``generator`` fixes the shuffling: same seed, same history.
        - ``callback(epoch, logs)`` is called after each epoch (logs hold 0-d tensors).
        - ``engine='plain'`` (default) runs Algorithm 1 over the layers' own ``forward``,
          ``backward`` and ``param``: any layer trains, yours included. ``engine='fast'`` runs the
          same steps through ``minidl.engine`` (about 4 times faster, the same numbers bit for
          bit); it refuses, with a ``ValueError``, a model with any layer other than the built-in
          ``Linear``, ``ReLU`` and ``Tanh``.
        - Training runs in training mode (``train()``); the per-epoch metrics are measured in
          evaluation mode (``eval()``); the model is left in the mode it was in.

        Shape: ``x`` ``(N, in_features)``; ``y`` int labels ``(N,)`` or one-hot targets
        ``(N, out_features)``; the same for the validation pair.

        Raises:
            ``TypeError`` / ``ValueError`` for bad input, before anything changes (a model with
            several runs: ``TypeError`` naming ``minidl.runs.fit_runs``); ``DivergenceError`` if
            the loss becomes NaN or infinite (the model then keeps the weights it had at the
            start of that epoch).
        """
        self._refuse_runs("fit", "fit_runs")
        [history] = train(self, x_train, y_train, x_validation, y_validation, epochs=epochs,
                          step_size=step_size, batch_size=batch_size, momentum=momentum, decay=decay,
                          loss=loss, generators=make_generators(seed, generator), callback=callback,
                          engine=engine)
        return history

    def predict(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Class labels predicted for ``x``: the arg-max of the output, int64.

        Shape:
            - ``x``: ``(N, in_features)``; labels: ``(N,)``
            - with R runs, ``x``: ``(R, N, in_features)``; labels: ``(R, N)``, row r from run r

        ``y``, in the paper's signature, is not needed: it is checked when given, then unused.
        The model predicts in evaluation mode (``eval()``), then goes back to its mode.
        """
        if y is None:
            check_features(self, x, "x")
        else:
            check_data(self, x, y, "")
        with evaluation_mode(self):
            return labels_of(self.forward(x))

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, loss="mse") -> dict[str, float]:
        """``{'loss': float, 'accuracy': float}`` on (x, y), under ``loss`` (as in ``fit``).

        Raises ``TypeError`` for a model with several runs: ``minidl.runs.evaluate_runs`` gives
        one such dict per run.
        """
        self._refuse_runs("evaluate", "evaluate_runs")
        [result] = evaluate(self, x, y, loss)
        return result

    def _refuse_runs(self, method: str, alternative: str) -> None:
        if self.runs is not None:
            raise TypeError(f"{method}: this model holds several runs ({self.runs}); use "
                            f"minidl.runs.{alternative}, which gives one result per run")

    def parameter_count(self) -> int:
        return sum(layer.parameter_count() for layer in self.layers)

    def summary(self) -> str:
        """A Keras-like table: one row per layer (the layers of a nested ``Sequential`` numbered
        ``1.0``, ``1.1``, ... as in ``state_dict``) with its output shape and number of parameters,
        then the total. For a model with R runs the shapes carry the run dimension,
        ``(R, N, features)``, and the counts are those of one network."""
        runs, features = self.runs, self.in_features
        lead = "N" if runs is None else f"{runs}, N"
        rows = []
        for name, layer in self.named_layers():
            features = layer.output_features(features) if features is not None else None
            width = "?" if features is None else features
            rows.append((f"{name} {layer!r}", f"({lead}, {width})", f"{layer.parameter_count():,}"))
        header = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(r[c]) for r in rows + [header]) for c in range(3)]
        line = lambda r: "  ".join(r[c].ljust(widths[c]) for c in range(3)).rstrip()
        total = f"Total params: {self.parameter_count():,}" + ("" if runs is None else f" per run, {runs} runs")
        rule = "=" * len(line(header))
        return "\n".join([line(header), rule, *map(line, rows), rule, total])

    # --- state and files (minidl.saving holds the file format) ------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters by name: ``'0.weight'``, ``'0.bias'``, ``'2.weight'``, ..."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``state`` (keys as ``state_dict``'s) into the layers, in place.

        Raises:
            ``TypeError`` for a non-dict or non-float tensors; ``ValueError`` for a missing,
            unexpected or wrongly shaped key, naming the layer. Nothing changes then.
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict: expected a dict of tensors, got {type(state).__name__}")
        own = self.state_dict()
        for key, value in own.items():             # check everything before changing anything
            if key not in state:
                continue                           # shapes first: they say most about another architecture
            given = state[key]
            if not isinstance(given, torch.Tensor) or given.shape != value.shape:
                got = tuple(given.shape) if isinstance(given, torch.Tensor) else type(given).__name__
                i = int(key.split(".")[0])
                raise ValueError(f"load_state_dict: layer {i} {self.layers[i]!r} expects {key} of shape "
                                 f"{tuple(value.shape)}, the state has {got}")
            if not given.is_floating_point():
                raise TypeError(f"load_state_dict: {key} must be a floating-point tensor, got {given.dtype}")
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"load_state_dict: the state does not fit this model ({len(self.layers)} layers): "
                             f"missing {missing}, unexpected {unexpected}")
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            layer.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def save(self, path: str | os.PathLike) -> None:
        """Write the architecture and the weights to ``path`` (``minidl.saving.save``: atomic;
        ``FileNotFoundError`` if the folder does not exist)."""
        saving.save(self, path)

    def load(self, path: str | os.PathLike) -> "Sequential":
        """Load weights written by ``save`` into this model (same architecture), in place; returns
        the model (``minidl.saving.load``: ``ValueError`` for a corrupt or foreign file)."""
        return saving.load(self, path)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)" if inner else "Sequential()"


def _declared(layer: Module, name: str) -> int | None:
    """What ``layer`` declares as ``name`` (``in_features``, ``runs``): an int, or None. A
    nested ``Sequential`` declares what its layers do."""
    value = getattr(layer, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _may_change_width(layer: Module) -> bool:
    """A layer with parameters that declares no ``out_features`` and keeps ``Module``'s
    ``output_features``: it may give another width than it takes, and does not say which."""
    return (_declared(layer, "out_features") is None and bool(layer.param())
            and type(layer).output_features is Module.output_features)


def _dtype(layer: Module) -> torch.dtype | None:
    """The dtype of ``layer``'s first parameter; None for a layer without parameters."""
    return next((value.dtype for value, _ in layer.param()), None)
