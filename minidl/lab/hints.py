"""Hints for the course's checks (``minidl.lab.grading``): which known mistake a wrong result
looks like, said without giving the fix.

A wrong gradient is rarely random. A transposed product, a forgotten 1/N, a sign flip or the
derivative taken of the wrong tensor each leave a signature: the result is exactly the
expected one transposed, N times it, its negative, or exactly what the wrong tensor gives.
``likely_mistake(got, expected, ...)`` compares a wrong result with these signatures (the
mistakes of the course's bug zoo, ``tests/bug_zoo.py``) and returns the first one it matches as
a ``Hint``: a short ``key`` (for tests) and a sentence for the student. A correct result, and
one that matches no signature (random noise of the right shape), get no hint: a hint is only
given when the evidence is exact, never as a guess.

``CheckFailure`` is the AssertionError the checks raise: its message ends with the hint
("Likely mistake: ..."), and ``failure.hint`` keeps it for tests.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .gradcheck import relative_error

MATCH = 1e-8        # relative error under which a result "is" a signature (float64 round-off)


class Hint(NamedTuple):
    key: str        # the signature's name, e.g. "transposed", "times_n"
    text: str       # the sentence for the student


class CheckFailure(AssertionError):
    """A failed check (nbgrader counts any AssertionError as a failed test) whose message ends
    with the likely mistake, if one was recognised (``hint.text`` + a full stop)."""

    def __init__(self, message: str, hint: Hint | None = None) -> None:
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\nLikely mistake: {hint.text}.")

    def __reduce__(self):                           # pickled whole (a process pool returns it)
        return _rebuild, (str(self), self.hint)


def _rebuild(message: str, hint: Hint | None) -> CheckFailure:
    failure = CheckFailure(message)
    failure.hint = hint
    return failure


def matches(got: torch.Tensor, signature: torch.Tensor) -> bool:
    """``got`` is ``signature``: the same shape and values to a relative error of ``MATCH``."""
    if tuple(got.shape) != tuple(signature.shape):
        return False
    return relative_error(got.detach(), signature.detach())[0] <= MATCH


def likely_mistake(got, expected: torch.Tensor, *, what: str, n: int | None = None,
                   beta: float | None = None, s: torch.Tensor | None = None,
                   alternatives: dict[str, tuple[torch.Tensor, str]] | None = None,
                   notes: dict[str, str] | None = None) -> Hint | None:
    """The first signature that the wrong result ``got`` matches, or None (also when ``got`` is
    right, or not a tensor).

    ``what`` names the quantity, the subject of the sentence ("your dl/dw (grad_weight)"). The
    signatures, in this order:

    - ``transposed``: ``got`` is ``expected`` transposed (a 2-d result);
    - ``negated``: ``got`` is ``-expected``;
    - ``times_n`` / ``divided_by_n`` (with the batch size ``n`` > 1): ``n`` times, or 1/``n`` of,
      ``expected`` (a sum where a mean belongs, or the reverse);
    - ``times_1_over_1_minus_beta`` / ``times_1_minus_beta`` (with a momentum 0 < ``beta`` < 1):
      the factor between torch's velocity (V = beta V + g) and the paper's (V = beta V + (1-beta) g);
    - ``relu_mask`` (with the activation's input ``s``): right where s > 0, wrong only where
      s <= 0, where ReLU's sigma'(s) is 0;
    - ``alternatives``: key -> (what a known wrong computation gives, its sentence), e.g. the
      derivative evaluated at the layer's output instead of its input;
    - ``zero``: all zeros, where the expected result is not.

    ``notes``: key -> a sentence added to that signature's (e.g. the equation and its shapes).
    """
    if not isinstance(got, torch.Tensor) or not isinstance(expected, torch.Tensor):
        return None
    got, expected = got.detach().to(torch.float64), expected.detach().to(torch.float64)
    if matches(got, expected):
        return None
    notes = notes or {}

    def hint(key: str, text: str) -> Hint:
        return Hint(key, f"{text}{'; ' + notes[key] if key in notes else ''}")

    if got.dim() == 2 and expected.dim() == 2 and matches(got, expected.T):
        return hint("transposed", f"{what} is the transpose of the expected one: shape "
                                  f"{tuple(got.shape)} instead of {tuple(expected.shape)}")
    if tuple(got.shape) != tuple(expected.shape):
        return None
    if matches(got, -expected):
        return hint("negated", f"{what} has the opposite sign of the expected one, everywhere")
    if n is not None and n > 1:
        if matches(got, expected * n):
            return hint("times_n", f"{what} is N = {n} times the expected one, at every entry")
        if matches(got, expected / n):
            return hint("divided_by_n", f"{what} is 1/N = 1/{n} of the expected one, at every entry")
    if beta is not None and 0 < beta < 1:
        if matches(got, expected / (1 - beta)):
            return hint("times_1_over_1_minus_beta", f"{what} is 1/(1 - beta) = {1 / (1 - beta):.6g} "
                                                     f"times the expected one (beta = {beta:g})")
        if matches(got, expected * (1 - beta)):
            return hint("times_1_minus_beta", f"{what} is (1 - beta) = {1 - beta:.6g} times the "
                                              f"expected one (beta = {beta:g})")
    if s is not None and tuple(s.shape) == tuple(expected.shape):
        positive = s > 0
        if bool(positive.any()) and matches(got[positive], expected[positive]):
            return hint("relu_mask", f"{what} is right wherever s > 0 and wrong only where s <= 0 "
                                     f"(there sigma'(s) = 0 for ReLU)")
    for key, (signature, text) in (alternatives or {}).items():
        if matches(got, signature.to(torch.float64)):
            return hint(key, text)
    if not bool(got.any()) and bool(expected.any()):
        return hint("zero", f"{what} is all zeros")
    return None
