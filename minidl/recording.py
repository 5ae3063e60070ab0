"""Record the tensor operations of one training step once, then replay them for every sample.

``fit``'s per-sample step calls the layers' unchecked methods (``Linear._forward``,
``Activation._backward``, ...) on buffers that ``training.training_step`` makes once. Every
operation of that step then writes into a tensor that already exists (``out=`` or in place),
so the step is the same list of calls every time: only the sample and its target change.
``record`` runs the step once under a ``TorchFunctionMode`` that writes each call down, and
returns ``replay(x, t)``, which makes the same calls on the same tensors, with the new sample
in place of the placeholder, and no Python of the layers' methods in between. This is what
CUDA graphs and ``torch.jit.trace`` do for bigger models; ``make benchmark`` times a per-sample
epoch with and without it. The maths stays where it is written, in
``layers.py`` and ``losses.py``: the replay makes exactly their calls, and
``tests/test_recording.py`` checks it bit for bit.

A step can be replayed only if nothing in it depends on the sample except through the calls
themselves: no tensor made during the step (other than a view) is read by a later call, and no
call other than a writing one reads the sample's values (its shape is the same every time). ``record`` checks this and returns ``None``
otherwise (the caller then keeps the step as it is).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch.overrides import TorchFunctionMode


class _Recorder(TorchFunctionMode):
    """While active (``with _Recorder(...) as recorder:``), makes every torch call as usual and
    writes it down: ``calls`` keeps the calls that write into an existing tensor (``out=`` or an
    in-place method), as ``(function, args, kwargs)``. ``replayable`` turns false if a later call
    would read a tensor that only this recording made, or that was derived from a placeholder."""

    def __init__(self, placeholders: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.placeholders = placeholders
        self.calls: list[tuple[Callable, tuple, dict]] = []
        self.made: list[torch.Tensor] = []     # tensors a replay would not remake: fresh results, views of placeholders
        self.replayable = True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        inputs = [*args, *kwargs.values()]
        if any(isinstance(a, torch.Tensor) and any(a is m for m in self.made) for a in inputs):
            self.replayable = False
        name = getattr(func, "__name__", "")
        if "out" in kwargs or (name.endswith("_") and not name.startswith("__")):      # relu_, not __get__
            self.calls.append((func, args, kwargs))       # writes: replayed
        elif isinstance(result, torch.Tensor) and (
                result._base is None or any(a is p for a in inputs for p in self.placeholders)):
            self.made.append(result)                      # a fresh tensor, or a view of the sample
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

    calls = []      # (call, k): call(), or call(sample[k]) when the sample (k = 0) or target (1) comes last
    for func, args, kwargs in recorder.calls:
        if any(v is x or v is t for v in kwargs.values()):
            return None
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
            call() if k is None else call(sample[k])
    return replay
