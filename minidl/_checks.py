"""Input checks shared by the whole package.

Every check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong value) with a message that names the argument, what was expected and what was
received. They run *before* anything is changed, so a failed call leaves the model as it was.
"""
from __future__ import annotations

import math

import torch


def check_tensor(value, name: str) -> torch.Tensor:
    """Refuse anything that is not a ``torch.Tensor`` (lists, numpy arrays, ...)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor, got {type(value).__name__}; "
            f"convert it first, e.g. torch.as_tensor({_variable(name)}, dtype=torch.float32)"
        )
    return value


def _variable(name: str) -> str:
    """``name`` if it can be a variable in a hint like ``x.float()``, else ``x``."""
    return name if name.isidentifier() else "x"


def check_float_tensor(value, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A floating-point tensor (of ``dtype`` when given) with only finite values."""
    check_tensor(value, name)
    if not value.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor, got dtype {value.dtype}; "
            f"convert it with {_variable(name)}.float()"
        )
    if dtype is not None and value.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype} (the model's dtype), got {value.dtype}; "
            f"convert it with {_variable(name)}.to({dtype})"
        )
    return value


def check_finite(value: torch.Tensor, name: str) -> None:
    """No NaN or infinite entry (``ValueError`` counting them)."""
    if not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")


def check_positive_number(value, name: str) -> float:
    """A positive, finite int or float (not a bool), returned as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a positive number, got {type(value).__name__} {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


def check_int(value, name: str, minimum: int, maximum: int | None = None) -> int:
    """An int (not a bool) in [minimum, maximum] (no upper bound when ``maximum`` is None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name}: expected an integer {allowed}, got {value}")
    return value


def check_fraction(value, name: str) -> float:
    """A number in [0, 1), as momentum must be."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number in [0, 1), got {type(value).__name__} {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)
