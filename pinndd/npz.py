"""``.npz`` files without pickle: written atomically, read back refusing anything that would need
unpickling, with a one-line :class:`~pinndd.errors.PinnddError` for a damaged or foreign file.
Point sets, models, kits, checkpoints and teacher caches are all stored through here."""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import PinnddError

#: What a damaged or foreign archive can raise while numpy and zipfile read it.
READ_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, OverflowError, MemoryError,
                UnicodeDecodeError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically: into a temporary file in the
    same folder, flushed and synced, then renamed over ``path``; a crash mid-write leaves the
    previous file intact. Object arrays are refused (nothing pinndd writes is pickled)."""
    path = Path(path)
    for k, a in arrays.items():
        if np.asarray(a).dtype.hasobject:
            raise PinnddError(f"array {k!r} has dtype object; pinndd files hold numeric and text arrays only")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from other users
    except OSError as e:
        raise PinnddError(f"cannot write {path}: {e.strerror or e}; choose a writable folder") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_npz(path: str | Path, what: str = "file") -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` file ``path``, read without unpickling anything.

    Raises :class:`PinnddError` (saying what the file is instead) for a missing file, a file that
    is not a zip archive (text, a single ``.npy``), a truncated or corrupted archive, and an
    archive holding pickled object arrays, which are never loaded.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except FileNotFoundError:
        raise PinnddError(f"cannot read {what} {path}: no such file") from None
    except OSError as e:
        raise PinnddError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # numpy would take anything else for a pickle
        kind = "a single .npy array" if head.startswith(b"\x93NUMPY") else "empty" if not head else "text or another format"
        raise PinnddError(f"cannot read {what} {path}: it is {kind}, not an .npz archive written by pinndd")
    data: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as f:
            for k in f.files:
                try:
                    data[k] = f[k]
                except ValueError as e:
                    if "allow_pickle" in str(e) or "Object arrays" in str(e):
                        raise PinnddError(f"{path}: array {k!r} holds pickled Python objects; pinndd never loads "
                                          f"those (a {what} holds numbers and text only)") from None
                    raise
    except PinnddError:
        raise
    except READ_ERRORS as e:
        text = " ".join(str(e).split())
        why = "it asks to be unpickled, which pinndd never does" if "pickle" in text else f"{type(e).__name__}: {text}"
        raise PinnddError(f"cannot read {what} {path}: truncated or corrupted ({why})") from None
    return data
