"""Reading and writing the workflow's files: every output is written atomically (it appears complete or not at
all, so no later run trusts a half file) and every .npz is read with one error rule (the file named, and what
it should have been)."""

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from sdt.errors import InputError

NPZ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)  # what a broken .npz raises


def _public(path, mode):
    """mkstemp/mkdtemp create 0600/0700: give the finished output the permissions of any new file (umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


TMP_RANDOM = "?" * 8  # tempfile's random part of a name: exactly 8 characters, so "a.npz" never matches "a.b.npz"'s


def _remove_leftovers(paths):
    """Temporary files or folders of an earlier write of the same output that was killed before it could clean up
    (SIGKILL, a node lost): a job is the only writer of its outputs, so they belong to nobody now."""
    for old in paths:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    ``suffix`` keeps an extension that a writer insists on (np.save adds ``.npy``, ffmpeg infers the format).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    _remove_leftovers(path.parent.glob(f".{glob.escape(path.stem)}.{TMP_RANDOM}.tmp{glob.escape(suffix)}"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _public(tmp, 0o666)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_dir(path):
    """Like :func:`atomic_path` for a directory: built under a temporary name, renamed when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path.parent.glob(f".{glob.escape(path.name)}.{TMP_RANDOM}.tmp"))
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _public(tmp, 0o777)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def sha256(path):
    """SHA-256 (hex) of a file's content, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_npz(path, **arrays):
    """``np.savez`` (uncompressed: fast to load) written atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def save_npy(path, array):
    """``np.save`` written atomically; the result can be opened with ``np.load(path, mmap_mode="r")``."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def write_text(path, text):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_csv(path, frame):
    """Write a pandas DataFrame atomically, without its index."""
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)


def load_npz(path, keys=None, what="npz file", skip=(), require=()):
    """The arrays ``keys`` of an .npz as a dict (every array but ``skip`` when ``keys`` is None); ``require``:
    further keys that must be there without being loaded (large arrays that a caller streams).

    An unreadable file is ``InputError(path, "cannot read <what> (...)")``, a missing key
    ``InputError(path, "<what> lacks <keys>")``: the one place where the workflow's npz files are opened."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in dict.fromkeys((*require, *(keys or ()))) if k not in z.files]
            if missing:
                raise InputError(path, f"{what} lacks {', '.join(missing)} (it has {', '.join(z.files) or 'nothing'})")
            return {k: z[k] for k in (keys if keys is not None else z.files) if k not in skip}
    except InputError:
        raise
    except NPZ_ERRORS as e:
        raise InputError(path, f"cannot read {what} ({type(e).__name__}: {e})") from e
