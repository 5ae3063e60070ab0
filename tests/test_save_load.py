"""Saving and loading (issue 6, minidl/saving.py): exact round trips, clear errors for the wrong
file, and a save that never leaves a broken file where a good one was.

``Sequential.save`` writes ``{'format', 'architecture', 'state_dict', 'checksum'}`` with
``torch.save`` to a temporary file and renames it over the target; ``Sequential.load`` reads it
back with ``torch.load(weights_only=True)`` (no arbitrary code from a pickle), checks the zip
CRCs, the checksum, the architecture and the shapes, and only then copies.
"""
from __future__ import annotations

import contextlib
import os

import pytest
import torch

from helpers import same_weights
from minidl import Linear, ReLU, Sequential, Tanh, build_data, paper_model
from minidl.runs import paper_runs, fit_runs


@pytest.fixture
def trained():
    g = torch.Generator().manual_seed(0)
    x, y = build_data(200, generator=g)
    model = paper_model(generator=g)
    model.fit(x, y, epochs=2, generator=g)
    return model, x


@pytest.fixture
def saved(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "model.pt"
    model.save(path)
    return path


# --- exact round trips ---------------------------------------------------------------------
def test_round_trip_is_bit_identical(trained, saved):
    model, x = trained
    fresh = paper_model(generator=torch.Generator().manual_seed(99))
    assert not same_weights(fresh.state_dict(), model.state_dict())
    assert fresh.load(saved) is fresh
    assert same_weights(fresh.state_dict(), model.state_dict())
    assert torch.equal(fresh.forward(x), model.forward(x))
    assert torch.equal(fresh.predict(x), model.predict(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_keeps_the_dtype(dtype, tmp_path):
    model = paper_model(dtype=dtype, init="xavier", generator=torch.Generator().manual_seed(1))
    model.save(tmp_path / "m.pt")
    other = paper_model(dtype=dtype).load(tmp_path / "m.pt")
    assert other.dtype == dtype and same_weights(other.state_dict(), model.state_dict())


def test_round_trip_of_a_many_runs_model(tmp_path):
    generators, data, stacked, _ = paper_runs([0, 1], paper_model, n_train=50, n_validation=20)
    fit_runs(stacked, *data[:4], generator=generators, epochs=1)
    stacked.save(tmp_path / "runs.pt")
    other = paper_runs([5, 6], paper_model, n_train=1, n_validation=1)[2].load(tmp_path / "runs.pt")
    assert same_weights(other.state_dict(), stacked.state_dict())
    assert torch.equal(other.forward(data[0]), stacked.forward(data[0]))


def test_the_file_is_a_plain_weights_only_torch_file(trained, saved):
    model, _ = trained
    content = torch.load(saved, weights_only=True)
    assert content["format"] == "minidl-1"
    assert content["architecture"] == [repr(layer) for layer in model.layers]
    assert same_weights(content["state_dict"], model.state_dict())


def test_state_dict_is_a_copy(trained):
    model, _ = trained
    state = model.state_dict()
    before = model.state_dict()
    for value in state.values():
        value.add_(1.0)
    assert same_weights(model.state_dict(), before)


def test_state_dict_round_trip_on_every_module():
    lin = Linear(3, 4, generator=torch.Generator().manual_seed(0))
    other = Linear(3, 4)
    other.load_state_dict(lin.state_dict())
    assert same_weights(other.state_dict(), lin.state_dict())
    for activation in (ReLU(), Tanh()):
        assert activation.state_dict() == {}
        activation.load_state_dict({})
        with pytest.raises(ValueError, match="no parameters"):
            activation.load_state_dict({"weight": torch.ones(1)})
    nested = Sequential(Sequential(Linear(2, 3), ReLU()), Linear(3, 2))
    copy = Sequential(Sequential(Linear(2, 3), ReLU()), Linear(3, 2))
    copy.load_state_dict(nested.state_dict())
    assert same_weights(copy.state_dict(), nested.state_dict())


# --- the wrong model or the wrong file -------------------------------------------------------------
def check_refused(model, path, *fragments, error=ValueError):
    before = model.state_dict()
    with pytest.raises(error) as info:
        model.load(path)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
    assert same_weights(model.state_dict(), before)
    return info.value


def test_another_architecture_names_the_layer_and_shapes(saved):
    smaller = Sequential(Linear(2, 10), ReLU(), Linear(10, 2))
    check_refused(smaller, saved, "layer 0", "Linear(in_features=2, out_features=25)",
                  "Linear(in_features=2, out_features=10)")


def test_another_activation_is_refused(saved):
    swapped = Sequential(Linear(2, 25), ReLU(), Linear(25, 25), ReLU(), Linear(25, 25), ReLU(), Linear(25, 2))
    check_refused(swapped, saved, "layer 5", "Tanh()", "ReLU()")


def test_a_deeper_model_is_refused(saved):
    deeper = Sequential(*paper_model().layers, ReLU(), Linear(2, 2))
    check_refused(deeper, saved, "layer 7", "no layer", "ReLU()", "7 layers", "this one 9")


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.25, 0.5, 0.75, 0.99])
def test_a_truncated_file_gives_a_clear_error(saved, tmp_path, fraction):
    data = saved.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: int(len(data) * fraction)])
    check_refused(paper_model(), cut, "cut.pt", "not a readable minidl model file", "truncated or corrupt")


def test_every_flipped_byte_is_refused_or_harmless(trained, saved, tmp_path):
    """Flip one byte at a time, every 23 bytes through the file: ``load`` either raises
    ValueError or (when the byte was zip padding or metadata) yields exactly the saved weights.
    Never silently different weights, never another exception."""
    model, _ = trained
    data = saved.read_bytes()
    bad, refused = tmp_path / "bad.pt", 0
    for offset in range(0, len(data), 23):
        bad.write_bytes(data[:offset] + bytes([data[offset] ^ 0x5A]) + data[offset + 1:])
        target = paper_model()
        try:
            target.load(bad)
        except ValueError:
            refused += 1
            continue
        assert same_weights(target.state_dict(), model.state_dict()), f"offset {offset} loaded other weights"
    assert refused > len(range(0, len(data), 23)) / 2   # most bytes matter (331 of 402 with torch 2.13)


def test_files_that_are_not_minidl_models(tmp_path):
    (tmp_path / "text.pt").write_text("weights: 1, 2, 3\n")
    check_refused(paper_model(), tmp_path / "text.pt", "not a readable minidl model file")
    torch.save(torch.ones(3), tmp_path / "tensor.pt")
    check_refused(paper_model(), tmp_path / "tensor.pt", "was not written by Sequential.save")
    torch.save({"format": "minidl-1"}, tmp_path / "partial.pt")
    check_refused(paper_model(), tmp_path / "partial.pt", "was not written by Sequential.save")
    check_refused(paper_model(), tmp_path, "not a readable minidl model file")          # a directory
    check_refused(paper_model(), tmp_path / "missing.pt", error=FileNotFoundError)


LOADED = []


class Payload:
    """A pickle that would run code when unpickled without weights_only=True."""

    def __reduce__(self):
        return (LOADED.append, ("code ran",))


def test_load_never_runs_code_from_the_file(tmp_path):
    torch.save({"format": "minidl-1", "architecture": [], "state_dict": {}, "x": Payload()}, tmp_path / "evil.pt")
    check_refused(paper_model(), tmp_path / "evil.pt", "not a readable minidl model file")
    assert LOADED == []


# --- writing: a missing folder, a crash during the save ------------------------------------------
def test_saving_into_a_missing_folder_names_the_path(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "no" / "such" / "folder" / "model.pt"
    with pytest.raises(FileNotFoundError) as info:
        model.save(path)
    assert str(path) in str(info.value) and "folder" in str(info.value)
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary(trained, saved, monkeypatch,
                                                                           interruption):
    """torch.save writes some bytes, then fails (an error, or Ctrl-C): the good file written before
    is untouched and the folder holds nothing else."""
    model, _ = trained
    good = saved.read_bytes()

    def failing_save(obj, f, *args, **kwargs):
        with open(f, "wb") if isinstance(f, (str, os.PathLike)) else contextlib.nullcontext(f) as out:
            out.write(good[: len(good) // 3])      # a truncated model file, as a crash leaves it
        raise interruption

    monkeypatch.setattr(torch, "save", failing_save)
    for layer in model.linears:
        layer.weight.add_(1.0)                     # other weights: the old file must not change
    with pytest.raises(type(interruption)):
        model.save(saved)
    assert saved.read_bytes() == good
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]
    monkeypatch.undo()
    restored = paper_model().load(saved)
    assert not same_weights(restored.state_dict(), model.state_dict())


def test_a_save_replaces_the_old_file_and_leaves_nothing_else(trained, saved):
    model, _ = trained
    for layer in model.linears:
        layer.weight.add_(1.0)
    model.save(saved)
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]
    assert same_weights(paper_model().load(saved).state_dict(), model.state_dict())
