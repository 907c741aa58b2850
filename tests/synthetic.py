"""A small synthetic clip set in the packed dataset layout, for tests and benchmarks (never used by a rule, so not
part of the library): clips whose pose is a known function of their audio's loudness, so a model can learn it."""

from pathlib import Path

import numpy as np

from sdt import layout
from sdt.constants import AUDIO_RATE, CLIP_FRAMES, CLIP_SAMPLES, FPS
from sdt.dataset.compute_stats import compute_stats
from sdt.io import save_npy


def synthetic_clips(folder, n_train=16, n_dev=4, seed=0, noise_px=0.5, hz=0.5, clips_seed=None):
    """A small clip set in the packed dataset layout, for tests, benchmarks and smoke runs: ``folder`` gets
    {train,dev}_{poses,audio}.npy and stats.npz (sdt.dataset.compute_stats.compute_stats); returns the paths as
    ``train`` wants.

    The pose is a known function of the audio's loudness: each clip's audio is white noise under an envelope
    a(t) = 0.5 + 0.5 sin(2 pi hz t + phi), phi random per clip (4.27 s at 0.5 Hz: every clip spans quiet to loud,
    so the generator's instance norms, which remove a clip's overall level, keep the information), and every
    point of frame t sits at ``base + a(t) * direction`` (fixed random base and direction per point) plus
    ``noise_px`` of noise.  One phase per clip also leaves the pose VAE a one-dimensional family to encode.
    ``clips_seed``: other clips (phases, noise) of the same person (base and direction of ``seed``).
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    n_frames, fps, n_samples = CLIP_FRAMES, FPS, CLIP_SAMPLES
    base = np.stack([rng.uniform(300, 900, layout.N_137), rng.uniform(150, 650, layout.N_137)])  # [2, 137] px
    direction = rng.normal(0.0, 30.0, (2, layout.N_137))
    if clips_seed is not None:
        rng = np.random.default_rng(clips_seed)
    paths = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        t_frame = (np.arange(n_frames) + 0.5) / fps
        env = 0.5 + 0.5 * np.sin(2 * np.pi * hz * t_frame + phase)  # [n, 64] loudness per frame
        poses = np.ones((n, n_frames, 3, layout.N_137), np.float32)  # confidence 1
        jitter = rng.normal(0, noise_px, (n, n_frames, 2, layout.N_137))
        poses[:, :, :2] = base + env[:, :, None, None] * direction + jitter
        frame_of_sample = np.minimum((np.arange(n_samples) * fps) // AUDIO_RATE, n_frames - 1)
        audio = (rng.standard_normal((n, n_samples)) * 0.1 * env[:, frame_of_sample]).astype(np.float32)
        for kind, arr in (("poses", poses), ("audio", audio)):
            paths[f"{split}_{kind}"] = folder / f"{split}_{kind}.npy"
            save_npy(paths[f"{split}_{kind}"], arr)
    paths["stats"] = folder / "stats.npz"
    compute_stats(paths["train_poses"], paths["stats"], "shoulder_width")
    return {k: str(v) for k, v in paths.items()}
