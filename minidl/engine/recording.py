"""Record the tensor operations of one training step once, then replay them for every sample.

The engine's per-sample step (``engine/step.py``) writes every result into a buffer made once
per ``fit``: every operation that computes writes into a tensor that already exists (``out=``
or in place; the others only make views, such as ``w.mT``), so the step is the same list of
calls every time: only the sample and its target change.
``record`` runs the step once under a ``TorchFunctionMode`` that writes each call down, and
returns ``replay(x, t)``, which makes the same calls on the same tensors, with the new sample
in place of the placeholder, and no Python in between. This is what CUDA graphs and
``torch.jit.trace`` do for bigger models; ``make benchmark`` times a per-sample epoch with and
without it. ``tests/test_recording.py`` checks the recorder's rules, and ``tests/test_engine.py``
that the replayed training equals the plain ``fit`` bit for bit.

A step can be replayed only if it makes the same calls, with the same numbers, for every sample:

- every call that computes writes into a tensor that already exists (``out=``, an in-place
  method such as ``relu_``, ``inplace=True``, or ``t[...] = ...``); other calls may only make
  views of existing tensors (``w.mT``) or read shapes (``x.dim()``);
- no later call reads a tensor that the step itself made (a replay would read the recorded one);
- the sample and the target are read only by writing calls, as their own arguments (not inside
  a list, not by keyword), and nothing turns their values into Python numbers (``.item()``);
- every Python number the step passes to torch is the same every time: it is recorded as it
  was. The engine keeps the step size out of the step (the optimizer steps after the replay).

``record`` checks each of these but the last (a number cannot be told from a constant) and
returns ``None`` when one fails (the caller then keeps the step as it is).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch.overrides import TorchFunctionMode

SHAPE_READS = {"dim", "size", "numel", "stride", "is_contiguous", "is_floating_point", "__get__"}   # x.shape, .dtype


def _tensors(value) -> list[torch.Tensor]:
    """The tensors in a call's argument or result, also inside lists, tuples and dicts."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return _tensors(list(value.values()))
    return []


def _among(tensor: torch.Tensor, tensors) -> bool:
    return any(tensor is other for other in tensors)


class _Recorder(TorchFunctionMode):
    """While active (``with _Recorder(...) as recorder:``), makes every torch call as usual and
    writes it down: ``calls`` keeps the calls that write into an existing tensor, as
    ``(function, args, kwargs)``. ``replayable`` turns false when a rule of the module's
    docstring is broken."""

    def __init__(self, placeholders: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.placeholders = placeholders
        self.calls: list[tuple[Callable, tuple, dict]] = []
        self.made: list[torch.Tensor] = []     # tensors a replay would not make again
        self.replayable = True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        inputs = _tensors([args, kwargs])
        reads_sample = any(_among(a, self.placeholders) for a in inputs)
        if any(_among(a, self.made) for a in inputs):
            self.replayable = False
        name = getattr(func, "__name__", "")
        if ("out" in kwargs or kwargs.get("inplace") is True or name == "__setitem__"
                or (name.endswith("_") and not name.startswith("__"))):            # relu_, not __get__
            self.calls.append((func, args, kwargs))
            top_level = [a for a in args if _among(a, self.placeholders)]
            if reads_sample and len(top_level) != sum(_among(a, self.placeholders) for a in inputs):
                self.replayable = False        # the sample inside a list or by keyword: replay puts it in only as an argument
            return result
        made = _tensors(result)
        for tensor in made:
            # ``_base`` is the tensor a view looks into (None for a tensor with its own memory):
            # a view of an argument is the same view at every replay; anything else is new
            base = tensor._base
            if reads_sample or base is None or not any(base is a or base is a._base for a in inputs):
                self.made.append(tensor)
        if reads_sample and not made and name not in SHAPE_READS:
            self.replayable = False            # a Python value read from the sample (.item(), torch.equal)
        return result


def record(step: Callable[[torch.Tensor, torch.Tensor], None], x: torch.Tensor,
           t: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], None] | None:
    """Run ``step(x, t)`` once, recording its calls, and return ``replay(x, t)`` that makes them
    again for another sample and target of the same shapes; ``None`` if the step cannot be
    replayed (see the module's docstring). ``x`` and ``t`` are placeholders: their values do
    not matter, and the step's results from them are overwritten by the first replay."""
    with _Recorder((x, t)) as recorder:
        step(x, t)
    if not recorder.replayable:
        return None
    sample: list[torch.Tensor] = [x, t]     # the current sample and target, set by replay

    def with_sample(func, args, slots):     # a call that reads the sample before its last argument
        args = list(args)
        for i, k in slots:
            args[i] = sample[k]
        return func(*args)

    # (call, k): call(), or call(sample[k]) for a call whose last argument is the sample (k = 0) or
    # the target (1), the common case, with no Python between the replay and torch; a call that
    # reads them elsewhere goes through with_sample, a little slower
    calls = []
    for func, args, kwargs in recorder.calls:
        slots = [(i, k) for i, a in enumerate(args) for k, p in enumerate((x, t)) if a is p]
        if len(slots) == 1 and slots[0][0] == len(args) - 1:      # e.g. torch.sub(output, t, out=g)
            calls.append((partial(func, *args[:-1], **kwargs), slots[0][1]))
        elif slots:                                                 # e.g. torch.baddbmm(b, x, w, out=s)
            calls.append((partial(with_sample, partial(func, **kwargs), args, slots), None))
        else:
            calls.append((partial(func, *args, **kwargs), None))

    def replay(x: torch.Tensor, t: torch.Tensor) -> None:
        sample[0], sample[1] = x, t
        for call, k in calls:
            if k is None:
                call()
            else:
                call(sample[k])
    return replay
