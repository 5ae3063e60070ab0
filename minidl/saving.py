"""Saving a model's weights to a file and loading them back: the file format and its checks.

A model file is what ``torch.save`` writes (a zip archive) of one dict::

    {"format": "minidl-1",
     "architecture": [repr(layer) for layer in model.layers],
     "state_dict": model.state_dict(),          # '0.weight', '0.bias', '2.weight', ...
     "checksum": CRC-32 of the names and bytes of those tensors}

``load`` reads it with ``torch.load(weights_only=True)`` (no code from a pickle runs), checks
the zip's CRCs and the checksum, then the architecture layer by layer, and only then copies
the weights into the model (``load_state_dict``, which checks every shape first).

``save`` writes to a temporary file in the same folder and renames it over ``path``
(``os.replace``, atomic on one file system): a crash or Ctrl-C during a save leaves the file
that was there before, whole, and no temporary file.

``Sequential.save`` and ``Sequential.load`` call these two functions.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import zipfile
import zlib
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:                  # only for the annotations: sequential.py imports this module
    from .sequential import Sequential

FORMAT = "minidl-1"


def save(model: Sequential, path: str | os.PathLike) -> None:
    """Write ``model``'s architecture and weights to ``path``, replacing any file there.

    Raises:
        ``FileNotFoundError`` naming ``path`` if its folder does not exist. Whatever fails
        during the write, the file at ``path`` is the old one and no temporary file remains.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"save: the folder {folder!r} does not exist; "
                                f"create it first (os.makedirs)", path)
    state = model.state_dict()
    content = {"format": FORMAT, "architecture": architecture(model), "state_dict": state,
               "checksum": checksum(state)}
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as f:
            torch.save(content, f)
            f.flush()
            os.fsync(f.fileno())            # on disk before the rename makes it the model file
        os.replace(temporary, path)
    except BaseException:                   # an error or Ctrl-C: remove the half-written copy
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def load(model: Sequential, path: str | os.PathLike) -> Sequential:
    """Copy the weights saved by ``save`` at ``path`` into ``model`` (same architecture), in place.

    Returns ``model``.

    Raises:
        ``FileNotFoundError`` if there is no file at ``path``; ``ValueError`` if the file is
        truncated, corrupt, not a minidl model file, or holds another architecture (naming the
        first layer that differs). The model is unchanged then.
    """
    saved = _read(path)
    theirs, mine = saved["architecture"], architecture(model)
    if theirs != mine:
        i = next((i for i, (a, b) in enumerate(zip(theirs, mine)) if a != b), min(len(theirs), len(mine)))
        at = lambda layers: layers[i] if i < len(layers) else "no layer"
        raise ValueError(f"load: layer {i} does not match: the file holds {at(theirs)}, this model has "
                         f"{at(mine)} (the file's model has {len(theirs)} layers, this one {len(mine)})")
    model.load_state_dict(saved["state_dict"])
    return model


def _read(path: str | os.PathLike) -> dict:
    """The checked content of a model file: its CRCs, its checksum and its keys."""
    try:
        with zipfile.ZipFile(path) as archive:     # torch.save writes a zip archive, and torch.load
            corrupt = archive.testzip()            # does not check its CRCs: flipped bytes would
        if corrupt is not None:                    # load as silently wrong weights
            raise ValueError(f"{corrupt} fails its CRC check")
        saved = torch.load(path, weights_only=True)
        if isinstance(saved, dict) and "checksum" in saved and saved["checksum"] != checksum(saved["state_dict"]):
            raise ValueError("the weights read differ from those written (checksum mismatch)")
    except FileNotFoundError:
        raise
    except Exception as error:   # truncated, corrupt or not a torch file at all
        reason = (str(error).splitlines() or [""])[0][:200]
        raise ValueError(f"load: {os.fspath(path)!r} is not a readable minidl model file; is it "
                         f"truncated or corrupt? ({type(error).__name__}: {reason})") from error
    if (not isinstance(saved, dict) or saved.get("format") != FORMAT
            or not isinstance(saved.get("architecture"), list) or not isinstance(saved.get("state_dict"), dict)):
        raise ValueError(f"load: {os.fspath(path)!r} was not written by Sequential.save")
    return saved


def architecture(model: Sequential) -> list[str]:
    """What the file records of the architecture: the repr of every layer, in order."""
    return [repr(layer) for layer in model.layers]


def checksum(state: dict[str, torch.Tensor]) -> int:
    """CRC-32 of the names and bytes of the tensors. The zip CRCs alone are not enough: a flipped
    bit in the zip directory can make torch.load read a record differently than zipfile checks it."""
    crc = 0
    for key in sorted(state):
        crc = zlib.crc32(key.encode(), crc)
        crc = zlib.crc32(state[key].detach().contiguous().numpy().tobytes(), crc)
    return crc
