"""minidl.engine: the same training, compiled for speed. Opt-in: ``fit(..., engine="fast")``.

``fit`` runs Algorithm 1 over the layers' own ``forward``, ``backward`` and ``param``: every
step makes fresh tensors and calls a few dozen Python methods, which on a 2-25-25-25-2
network cost far more than the arithmetic (about 1,350 multiply-adds a sample forward, some
4,000 with the backward pass). Real frameworks close that gap the same three ways, and so
does this engine:

1. **Fused operations on flat buffers.** All the weights and biases live in one flat tensor,
   their gradients in another, so the optimizer's step is one operation for the whole model
   (``torch.optim``'s "foreach" and "fused" implementations do this).
2. **Preallocated buffers.** Every intermediate result (each layer's output, each gradient)
   is written into a tensor allocated once per ``fit`` (``out=`` arguments, in-place
   activations), as inference runtimes and ``torch.compile``'s memory planning do.
3. **A recorded step, replayed.** One sample at a time, the step is the same list of tensor
   calls for every sample; it is recorded once and replayed, with no Python of the layers in
   between (``engine/recording.py``: CUDA graphs and ``torch.jit.trace`` do this on GPUs).

The engine has its own implementation of the built-in ``Linear``, ``ReLU`` and ``Tanh`` and of
both losses (``engine/step.py``). It makes the same floating-point operations in the same
order, so its weights and histories equal the plain ``fit``'s bit for bit, for every
configuration the kit uses (``tests/test_engine.py``). Because it does not run the layers'
code, it must never run where that code could differ: ``compile`` refuses, with a
``ValueError`` that names the layer and says to use ``engine='plain'``,

- any layer that is not exactly a built-in ``Linear``, ``ReLU`` or ``Tanh`` (your own layer,
  a subclass of a built-in one), or a container other than ``Sequential``;
- a built-in class or layer whose method was replaced (``Tanh.backward = ...`` in a notebook,
  or ``layer.forward = ...``);
- a loss other than the unmodified ``MSE`` and ``ElementwiseMSE``;
- a model on which one step of its own code and one step of the layers' code give different
  gradients (``fit`` runs this probe on its first batch, on copies of the model): what an edit
  of ``minidl/layers.py`` itself would cause.

``torch.compile`` makes the same promise the same way: it falls back or refuses where it cannot
guarantee the eager result.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch

from ..layers import Activation, Linear, ReLU, Tanh
from ..losses import ElementwiseMSE, MSE
from ..module import Module
from ..optim import SGD
from .recording import record
from .step import LinearViews, build_step

LAYERS = (Linear, ReLU, Tanh)
LOSSES = (MSE, ElementwiseMSE)
_CLASSES = {Module, Activation, Linear, ReLU, Tanh, MSE, ElementwiseMSE}
_PADDING = 16      # each tensor starts at a multiple of 16 numbers in the flat buffers


def compile(model, loss, *, batch_size: int, momentum: float,
            probe: tuple[torch.Tensor, torch.Tensor] | None = None) -> "Compiled":
    """The engine's training for ``model`` with ``loss`` (``MSE`` or ``ElementwiseMSE``),
    batches of ``batch_size`` and the paper's momentum; nothing of the model changes.

    ``probe``: training data and one-hot targets ``(x, t)`` (``fit`` passes its own). The engine
    then takes one step on the first batch, on a copy of the model, and compares its gradients
    with those of the layers' own ``forward`` and ``backward`` bit for bit: an edit of the
    layers' code in ``minidl/layers.py`` itself, which no check of the classes can see, is caught
    if it changes that step's numbers.

    Raises:
        ``ValueError`` naming the first layer (or the loss) the engine cannot compile, or the
        first parameter whose probe gradient differs.
    """
    layers = _layers(model)
    for name, layer in layers:
        _check_layer(name, layer)
    if not any(type(layer) is Linear for _, layer in layers):
        raise ValueError(f"engine='fast' compiles models with at least one Linear layer, got {model!r}; "
                         f"use engine='plain' (the default)")
    if loss not in LOSSES:
        raise ValueError(f"engine='fast' cannot compile the loss {loss!r}: it compiles MSE and "
                         f"ElementwiseMSE only; use engine='plain' (the default)")
    for cls in _CLASSES:
        replaced = _replaced_methods(cls)
        if replaced:
            raise ValueError(f"engine='fast' cannot compile a model while {cls.__name__}.{replaced[0]} is not "
                             f"minidl's own (it was replaced): the engine runs its own copy of the built-in "
                             f"layers and would silently differ; use engine='plain' (the default), which "
                             f"runs the methods as they are now")
    compiled = Compiled([layer for _, layer in layers], batch_size, momentum, loss)
    if probe is not None:
        _check_probe(model, loss, batch_size, *probe)
    return compiled


def _check_probe(model, loss, batch_size: int, x: torch.Tensor, t: torch.Tensor) -> None:
    """One step on the first batch of ``(x, t)`` by the layers' own code and by the engine, on two
    copies of ``model``: ``ValueError`` unless their gradients are the same bit for bit."""
    by_layers, by_engine = copy.deepcopy(model), copy.deepcopy(model)
    xb, tb = x[..., :batch_size, :], t[..., :batch_size, :]
    with torch.no_grad():
        by_layers.zero_grad()
        by_layers.backward(loss.compute_grad(by_layers.forward(xb), tb))
    engine = Compiled([layer for _, layer in by_engine.named_layers()], batch_size, 0.0, loss)
    engine._copy_in()
    with torch.inference_mode():
        if engine.runs is None and batch_size == 1:
            xb, tb = xb[0], tb[0]           # one sample at a time, the engine takes a vector
        engine.step_for(xb)(xb, tb)
    engine._copy_out()
    for (name, layer), (_, twin) in zip(by_layers.named_layers(), by_engine.named_layers()):
        for (_, mine), (_, theirs) in zip(layer.param(), twin.param()):
            if not torch.equal(mine, theirs):
                raise ValueError(f"engine='fast' cannot vouch for this model: one step of its own code and of the "
                                 f"layers' code give different gradients at layer {name} {layer!r} (largest "
                                 f"difference {(mine - theirs).abs().max().item():.3g}); were minidl's layers edited? "
                                 f"Use engine='plain' (the default), which runs the layers' code as it is")


class Compiled:
    """A model compiled for ``fit``: its parameters copied into flat buffers, and one step
    function per batch size (one sample at a time: recorded and replayed).

    ``run_epoch(xs, ts, eta)`` is the inner loop of one epoch of Algorithm 1 on shuffled data:
    it copies the layers' weights in, runs every batch (step, then the optimizer on the flat
    buffers), and copies the weights and the last batch's gradients back into the layers.
    """

    def __init__(self, layers: list[Module], batch_size: int, momentum: float, loss) -> None:
        self.layers, self.batch_size, self.loss = layers, batch_size, loss
        self.linears = [layer for layer in layers if type(layer) is Linear]
        first = self.linears[0]
        self.dtype, self.runs = first.weight.dtype, first.runs
        self.values, self.grads, self.views = _flat_buffers(self.linears, self.dtype)
        self.optimizer = SGD([(self.values, self.grads)], momentum)
        self.steps: dict[int, Callable] = {}

    def step_for(self, batch: torch.Tensor) -> Callable:
        """The step for batches of ``batch``'s shape, built on first use."""
        key = batch.shape[-2] if batch.dim() > 1 else 1
        if key not in self.steps:
            views = {i: self.views[id(layer)] for i, layer in enumerate(self.layers) if type(layer) is Linear}
            step = build_step(self.layers, views, batch.shape, self.loss, self.dtype, self.grads.zero_)
            if key == 1:        # one sample at a time: record the step once, replay it for every sample
                with torch.inference_mode():
                    placeholders = torch.zeros(batch.shape, dtype=self.dtype), \
                                   torch.zeros(*batch.shape[:-1], self.linears[-1].out_features, dtype=self.dtype)
                    step = record(step, *placeholders) or step
            self.steps[key] = step
        return self.steps[key]

    def run_epoch(self, xs: torch.Tensor, ts: torch.Tensor, eta: float) -> None:
        """One epoch's batches on shuffled data ``xs``, targets ``ts`` (checked by ``fit``)."""
        self._copy_in()
        vectors = self.runs is None and self.batch_size == 1     # one model, one sample: vectors
        with torch.inference_mode():
            if vectors:
                batches = zip(xs.unbind(-2), ts.unbind(-2))
            else:
                batches = zip(xs.split(self.batch_size, dim=-2), ts.split(self.batch_size, dim=-2))
            for xb, tb in batches:
                self.step_for(xb)(xb, tb)
                self.optimizer.step(eta)
        self._copy_out()

    def _copy_in(self) -> None:
        for layer in self.linears:
            v = self.views[id(layer)]
            v.weight.copy_(layer.weight)
            v.bias.copy_(layer.bias)

    def _copy_out(self) -> None:
        for layer in self.linears:
            v = self.views[id(layer)]
            for name in ("weight", "bias", "grad_weight", "grad_bias"):
                getattr(layer, name).copy_(getattr(v, name))


def _flat_buffers(linears: list[Linear], dtype: torch.dtype):
    """(values, gradients, views): two flat tensors holding every weight and bias and their
    gradients, each tensor starting at a multiple of 16 numbers, as a tensor of its own would
    in memory (the vectorised kernels then round every entry as they do on separate tensors),
    and ``views[id(layer)]``, the ``LinearViews`` of each layer."""
    padded = lambda t: -(-t.numel() // _PADDING) * _PADDING
    size = sum(padded(t) for layer in linears for t in (layer.weight, layer.bias))
    values, grads = torch.zeros(size, dtype=dtype), torch.zeros(size, dtype=dtype)
    offset, views = 0, {}
    for layer in linears:
        parts = {}
        for name in ("weight", "bias"):
            value = getattr(layer, name)
            k = value.numel()
            parts[name] = values[offset:offset + k].view(value.shape)
            parts["grad_" + name] = grads[offset:offset + k].view(value.shape)
            offset += padded(value)
        views[id(layer)] = LinearViews(**parts)
    return values, grads, views


def _layers(model) -> list[tuple[str, Module]]:
    """The layers of ``model`` in the order they run, if it is a plain ``Sequential`` (nested ones
    included)."""
    if not _is_sequential(model):
        raise ValueError(f"engine='fast' compiles minidl Sequential models, got {type(model).__name__}; "
                         f"use engine='plain' (the default)")
    for module in model.modules():
        if hasattr(module, "layers") and not _is_sequential(module):
            raise ValueError(f"engine='fast' cannot compile {module!r}; use engine='plain' (the default)")
    return model.named_layers()


def _is_sequential(model) -> bool:
    """Exactly minidl's ``Sequential`` (not a subclass), with its own methods."""
    cls = type(model)
    return (cls.__name__ == "Sequential" and cls.__module__ == "minidl.sequential"
            and not _replaced_methods(cls) and not _shadowed_methods(model))


def _check_layer(name: str, layer: Module) -> None:
    if type(layer) not in LAYERS:
        kind = ("a subclass of " + next(c.__name__ for c in LAYERS if isinstance(layer, c))
                if isinstance(layer, LAYERS) else "not one of the built-in Linear, ReLU, Tanh")
        raise ValueError(f"engine='fast' cannot compile layer {name} {layer!r} ({kind}): the engine runs its own "
                         f"copy of the built-in layers' maths; use engine='plain' (the default), which trains "
                         f"any Module through its own forward, backward and param")
    shadowed = _shadowed_methods(layer)
    if shadowed:
        raise ValueError(f"engine='fast' cannot compile layer {name} {layer!r}: its method {shadowed[0]} was "
                         f"replaced on the layer itself; use engine='plain' (the default)")


def _replaced_methods(cls: type) -> list[str]:
    """Names of the functions in ``cls``'s own namespace that were not defined there (a method
    replaced after import, such as ``Tanh.backward = my_backward`` in a notebook)."""
    replaced = []
    for name, value in vars(cls).items():
        function = getattr(value, "__func__", value)          # classmethod / staticmethod
        if name.startswith("__") and name.endswith("__"):
            continue
        if not callable(function) or isinstance(function, type):
            continue
        if (getattr(function, "__module__", None) != cls.__module__
                or getattr(function, "__qualname__", None) != f"{cls.__qualname__}.{name}"):
            replaced.append(name)
    return replaced


def _shadowed_methods(obj) -> list[str]:
    """Names of methods of ``obj``'s class that ``obj`` itself overrides (``layer.forward = ...``)."""
    return [name for name, value in vars(obj).items() if callable(getattr(type(obj), name, None)) and callable(value)]
