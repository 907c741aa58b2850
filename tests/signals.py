"""Test signals made at test time (shared by the audio-feature tests)."""

import numpy as np


def speechlike(n, seed=0):
    """A chirp with bursts and noise: energy moving across the mel bands, silence, and sharp onsets."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    wav = np.sin(2 * np.pi * (100 + 800 * t) * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    return (0.5 * wav + 0.05 * rng.standard_normal(n)).astype(np.float32)
