"""Checkpoints that rebuild a working model on their own: weights, model configs, the speaker's statistics
(to denormalise), the templates, the training settings and history.  Written atomically."""

import hashlib
import json

import numpy as np
import torch

from sdt.io import atomic_path, sha256


def save_checkpoint(path, payload):
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path, map_location="cpu"):
    return torch.load(path, map_location=map_location, weights_only=False)


def fingerprint(facts, files):
    """Identifies a training run by everything that decides its result: ``facts`` (JSON-able: the method, the
    settings that decide the result, the code digest) and the content of every input file (``files``: {name:
    path or None}; SHA-256 of all of it: poses, audio, statistics, templates, fine-tuning source, ...).  A
    checkpoint resumes only a run with the same fingerprint, so no changed input, setting or code ever
    continues from a stale checkpoint."""
    h = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode())
    for name in sorted(files):
        h.update(f"\0{name}={None if files[name] is None else sha256(files[name])}".encode())
    return h.hexdigest()[:16]


def stats_payload(stats):
    """The statistics a checkpoint carries (numpy arrays and scalars only)."""
    return {k: (np.asarray(v) if not isinstance(v, str) else v) for k, v in stats.items()}
