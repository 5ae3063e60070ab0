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
from .training import History, check_data, check_features, evaluate, make_generators, train
from .utils import labels_of


class Sequential(Module):
    """Layers applied one after the other: ``forward`` runs them in order, ``backward`` in
    reverse order (backpropagation, Section III-B). Itself a ``Module``, so it can be nested.

    Shape:
        - input: ``(N, in_features)``, or ``(R, N, in_features)`` when its Linears have ``runs=R``
        - output: ``(N, out_features)``, or ``(R, N, out_features)``

    Parameters: those of its layers, in order (``param()``, ``state_dict()`` with keys
    ``'<position>.weight'``, ...). The model keeps them in one flat tensor and their gradients in
    another (``flat_param()``): when a layer is added, its ``weight``, ``bias`` and gradients
    become views of these (a tensor taken from a Linear before it was added is a stale copy).

    >>> model = Sequential(Linear(2, 25), ReLU(), Linear(25, 25), ReLU(),
    ...                    Linear(25, 25), Tanh(), Linear(25, 2))
    """

    def __init__(self, *layers: Module) -> None:
        self.layers: list[Module] = []
        self._flat: tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]] | None = None
        for layer in layers:
            self.add_layer(layer)

    # --- building ------------------------------------------------------------------------
    def add_layer(self, layer: Module) -> "Sequential":
        """Append ``layer`` and return the model.

        Raises:
            ``TypeError`` if ``layer`` is not a ``Module``; ``ValueError`` if its input size,
            runs or dtype do not fit the model so far (or it is the model itself).
        """
        if not isinstance(layer, Module):
            raise TypeError(f"add_layer: expected a minidl Module (Linear, ReLU, Tanh, ...), "
                            f"got {type(layer).__name__}")
        if layer is self:
            raise ValueError("add_layer: a Sequential cannot contain itself")
        first = _first_linear(layer)
        if first is not None and self.linears:
            last = self.linears[-1]
            if first.in_features != last.out_features:
                raise ValueError(f"add_layer: {first!r} takes {first.in_features} input features, but the "
                                 f"model so far ({last!r}) outputs {last.out_features}")
            if first.runs != last.runs or first.weight.dtype != last.weight.dtype:
                raise ValueError(f"add_layer: {first!r} has runs={first.runs}, dtype={first.weight.dtype}; "
                                 f"the model has runs={last.runs}, dtype={last.weight.dtype}")
        self.layers.append(layer)
        if first is not None:
            self._pack()
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
        """The ``Linear`` layers, in order, nested ones included."""
        return [layer for _, layer in self.named_layers() if isinstance(layer, Linear)]

    def _need_linear(self) -> Linear:
        if not self.linears:
            raise ValueError("this Sequential has no Linear layer yet: add one with add_layer(Linear(...))")
        return self.linears[0]

    # The shape properties read the Linears (ValueError when there is none yet).
    @property
    def in_features(self) -> int:
        """Input features of the first ``Linear``."""
        return self._need_linear().in_features

    @property
    def out_features(self) -> int:
        """Output features of the last ``Linear``."""
        self._need_linear()
        return self.linears[-1].out_features

    @property
    def runs(self) -> int | None:
        """R for a model of R stacked runs (``minidl.runs``), None for one network."""
        return self._need_linear().runs

    @property
    def lead_dims(self) -> int:
        """Dimensions before ``(N, features)`` in the data: 1 with runs, else 0."""
        return 0 if self.runs is None else 1

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights (and of the data the model takes)."""
        return self._need_linear().weight.dtype

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

    def output_features(self, input_features: int) -> int:
        for layer in self.layers:
            input_features = layer.output_features(input_features)
        return input_features

    # --- fit's fast path: flat buffers and wired layers ---------------------------------------
    def _pack(self) -> None:
        """Move every Linear's weight, bias and their gradients into two flat tensors (values,
        gradients); the layers' tensors become views of them, each starting at a multiple of 16
        numbers as a tensor of its own would (the kernels then round exactly as before)."""
        padded = lambda t: -(-t.numel() // 16) * 16
        size = sum(padded(t) for layer in self.linears for t in (layer.weight, layer.bias))
        values, grads = torch.zeros(size, dtype=self.dtype), torch.zeros(size, dtype=self.dtype)
        offset, views = 0, []
        for layer in self.linears:
            for name in ("weight", "bias"):
                value, grad = getattr(layer, name), getattr(layer, "grad_" + name)
                k = value.numel()
                setattr(layer, name, values[offset:offset + k].view(value.shape).copy_(value))
                setattr(layer, "grad_" + name, grads[offset:offset + k].view(value.shape).copy_(grad))
                views += [getattr(layer, name), getattr(layer, "grad_" + name)]
                offset += padded(value)
        self._flat = (values, grads, views)

    def flat_param(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(values, gradients)]``: all the parameters of the model in one flat tensor and their
        gradients in another (``param()``'s tensors are views of them), so that the step of
        eqs. (6) and (7) is one operation for the whole model (``fit`` gives this to ``SGD``)."""
        own = [getattr(layer, name) for layer in self.linears for name in ("weight", "grad_weight", "bias", "grad_bias")]
        if self._flat is None or len(own) != len(self._flat[2]) or any(a is not b for a, b in zip(own, self._flat[2])):
            self._pack()          # a layer's tensor was replaced, or an outer Sequential packed this one's layers
        values, grads, _ = self._flat
        return [(values, grads)]

    # --- training and using ------------------------------------------------------------------
    def fit(self, x_train: torch.Tensor, y_train: torch.Tensor,
            x_validation: torch.Tensor | None = None, y_validation: torch.Tensor | None = None, *,
            epochs: int = 100, step_size: float = 0.01, batch_size: int = 1, momentum: float = 0.0,
            decay: float = 0.9, loss="mse", seed: int | None = None,
            generator: torch.Generator | None = None, callback=None) -> History:
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
                          loss=loss, generators=make_generators(seed, generator), callback=callback)
        return history

    def predict(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Class labels predicted for ``x``: the arg-max of the output, int64.

        Shape:
            - ``x``: ``(N, in_features)``; labels: ``(N,)``
            - with R runs, ``x``: ``(R, N, in_features)``; labels: ``(R, N)``, row r from run r

        ``y``, in the paper's signature, is not needed: it is checked when given, then unused.
        """
        if y is None:
            check_features(self, x, "x")
        else:
            check_data(self, x, y, "")
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
        if self.linears and self.runs is not None:
            raise TypeError(f"{method}: this model holds several runs ({self.runs}); use "
                            f"minidl.runs.{alternative}, which gives one result per run")

    def parameter_count(self) -> int:
        return sum(layer.parameter_count() for layer in self.layers)

    def summary(self) -> str:
        """A Keras-like table: one row per layer (the layers of a nested ``Sequential`` numbered
        ``1.0``, ``1.1``, ... as in ``state_dict``) with its output shape and number of parameters,
        then the total. For a model with R runs the shapes carry the run dimension,
        ``(R, N, features)``, and the counts are those of one network."""
        runs = self.runs if self.linears else None
        features = self.in_features if self.linears else None
        lead = "N" if runs is None else f"{runs}, N"
        rows = []
        for name, layer in self.named_layers():
            features = layer.output_features(features) if features is not None else None
            rows.append((f"{name} {layer!r}", f"({lead}, {features})", f"{layer.parameter_count():,}"))
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


def _first_linear(layer: Module) -> Linear | None:
    if isinstance(layer, Linear):
        return layer
    if isinstance(layer, Sequential) and layer.linears:
        return layer.linears[0]
    return None
