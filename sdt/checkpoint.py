"""Checkpoints that rebuild a working model on their own: weights, model configs, the speaker's statistics
(to denormalise), the templates, the training settings and history.  Written atomically."""

import hashlib
import json

import numpy as np
import torch

from sdt.io import atomic_path


def save_checkpoint(path, payload):
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path, map_location="cpu"):
    return torch.load(path, map_location=map_location, weights_only=False)


def fingerprint(settings, *arrays_or_paths):
    """Identifies a training run: settings + the data it trains on.  A checkpoint resumes only a run with the
    same fingerprint, so a changed config never continues from a stale checkpoint."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for item in arrays_or_paths:
        if isinstance(item, np.ndarray):
            h.update(np.ascontiguousarray(item).tobytes())
        else:
            arr = np.load(item, mmap_mode="r")
            h.update(f"{arr.shape}{arr.dtype}".encode())
            h.update(np.ascontiguousarray(arr[:: max(1, len(arr) // 16)]).tobytes())  # a sparse sample
    return h.hexdigest()[:16]


def stats_payload(stats):
    """The statistics a checkpoint carries (numpy arrays and scalars only)."""
    return {k: (np.asarray(v) if not isinstance(v, str) else v) for k, v in stats.items()}
