"""minidl.lab.hints: likely_mistake names a wrong result's signature exactly, and says nothing
about a right one or one that matches no signature (random noise of the right shape)."""
import pickle

import pytest
import torch

from minidl.lab.hints import CheckFailure, Hint, likely_mistake

from helpers import F64, generator

N = 5


def tensors(seed: int = 0):
    g = generator(seed)
    return torch.randn(N, 3, generator=g, dtype=F64), torch.randn(N, 3, generator=g, dtype=F64)


def signature_cases():
    expected, s = tensors()
    relu = torch.where(s > 0, expected, -3 * expected)        # right only where s > 0
    other = torch.randn(N, 3, generator=generator(9), dtype=F64)
    return [("transposed", expected.T.clone(), {}),
            ("negated", -expected, {}),
            ("times_n", N * expected, {"n": N}),
            ("divided_by_n", expected / N, {"n": N}),
            ("times_1_over_1_minus_beta", expected / 0.1, {"beta": 0.9}),
            ("times_1_minus_beta", expected * 0.1, {"beta": 0.9}),
            ("relu_mask", relu, {"s": s}),
            ("wrong_tensor", other.clone(),
             {"alternatives": {"wrong_tensor": (other, "your dl/dw is the other tensor")}}),
            ("zero", torch.zeros_like(expected), {})]


@pytest.mark.parametrize("key, got, options", signature_cases(), ids=lambda c: c if isinstance(c, str) else "")
def test_each_signature_is_named(key, got, options):
    expected, _ = tensors()
    hint = likely_mistake(got, expected, what="your dl/dw", **options)
    assert isinstance(hint, Hint) and hint.key == key, hint
    assert hint.text.startswith("your dl/dw")


def test_a_note_is_added_to_its_signatures_sentence_only():
    expected, _ = tensors()
    notes = {"transposed": "eq. (4) is g^T x", "negated": "mind the sign"}
    assert likely_mistake(expected.T, expected, what="x", notes=notes).text.endswith("; eq. (4) is g^T x")
    assert "eq. (4)" not in likely_mistake(-expected, expected, what="x", notes=notes).text


@pytest.mark.parametrize("seed", range(20))
def test_right_results_and_random_noise_get_no_hint(seed):
    expected, s = tensors(seed)
    noise = torch.randn(N, 3, generator=generator(100 + seed), dtype=F64)
    options = {"n": N, "beta": 0.9, "s": s,
               "alternatives": {"wrong_tensor": (torch.tanh(expected), "tanh of it")}}
    assert likely_mistake(expected.clone(), expected, what="x", **options) is None
    assert likely_mistake(expected + 1e-14, expected, what="x", **options) is None     # round-off is right
    assert likely_mistake(noise, expected, what="x", **options) is None
    assert likely_mistake(noise[:, :2], expected, what="x", **options) is None         # a wrong shape, no signature


def test_what_is_not_a_tensor_gets_no_hint():
    expected, _ = tensors()
    assert likely_mistake(None, expected, what="x") is None
    assert likely_mistake([1.0], expected, what="x") is None


def test_signatures_are_exact_not_approximate():
    expected, _ = tensors()
    assert likely_mistake(-expected * 1.001, expected, what="x") is None
    assert likely_mistake(N * expected * 1.001, expected, what="x", n=N) is None


def test_a_check_failure_ends_with_its_hint_and_survives_a_process_pool():
    failure = CheckFailure("eq. (4): largest relative error 2", Hint("negated", "your dl/dw has the opposite sign"))
    assert isinstance(failure, AssertionError)
    assert str(failure) == "eq. (4): largest relative error 2\nLikely mistake: your dl/dw has the opposite sign."
    again = pickle.loads(pickle.dumps(failure))
    assert str(again) == str(failure) and again.hint == failure.hint
    assert str(CheckFailure("plain")) == "plain" and CheckFailure("plain").hint is None
