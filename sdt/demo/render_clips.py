"""Rule render_clips: a trained model's prediction next to the ground truth on a few dev clips, with their speech,
one clip after the other in one video."""

import logging

import numpy as np
import pandas as pd

from sdt import render
from sdt.constants import AUDIO_RATE, FPS
from sdt.device import pick_device
from sdt.errors import InputError
from sdt.poses import load_stats, to_121

log = logging.getLogger(__name__)


def _clip_labels(index_csv, rows):
    """'video @ start s' for dev clips ``rows`` (their index in dev_*.npy) from clips.csv."""
    if index_csv is None:
        return {r: f"dev clip {r}" for r in rows}
    table = pd.read_csv(index_csv)
    dev = table[(table["dataset"].astype(str) == "dev") & (table["index"] >= 0)].set_index("index")
    return {r: (f"dev clip {r}: {dev.at[r, 'video_fn']} @ {float(dev.at[r, 'start']):.1f} s" if r in dev.index
                else f"dev clip {r}") for r in rows}


def render_clips(model_path, stats_path, dev_poses, dev_audio, video_out, index_csv=None, n_clips=4, seed=0,
                 device=None, threads=0, panel=(540, 480), pose_vae=None, temperature=None):
    """Prediction next to ground truth on ``n_clips`` evenly spaced dev clips, one after the other, with
    their speech.  SDT models use a template row drawn with ``seed`` per clip (the release's test default); MoGlow
    draws each clip's latent from (seed, clip) at ``temperature`` (None = 1).  The model is ours or the authors' (a
    release SDT-VAE takes its templates from ``pose_vae``)."""
    from sdt.inference import load_gesture_model

    stats = load_stats(stats_path)
    poses = np.load(dev_poses, mmap_mode="r")
    audio = np.load(dev_audio, mmap_mode="r")
    if len(poses) == 0:
        raise InputError(dev_poses, "no dev clips to render")
    rows = np.unique(np.round(np.linspace(0, len(poses) - 1, min(n_clips, len(poses)))).astype(int))
    model = load_gesture_model(model_path, pick_device(device, threads), stats=stats, pose_vae=pose_vae,
                               index_csv=index_csv, temperature=1.0 if temperature is None else temperature)
    tpl = model.noise(seed, rows) if model.family.latent == "noise" else None
    if model.templates is not None:
        pick = np.random.default_rng(seed).integers(len(model.templates), size=len(rows))
        tpl = model.templates.detach().cpu().numpy()[pick]
    pred = np.asarray(model.predict(np.asarray(audio[rows]), tpl).cpu())  # [n, 64, 2, 121]
    true = to_121(np.asarray(poses[rows], np.float32)) * stats["scale_factor"]  # final results (docs/dataset.md §5)
    labels = _clip_labels(index_csv, rows.tolist())
    captions = [labels[r] for r in rows for _ in range(pred.shape[1])]
    n_frames = len(rows) * pred.shape[1]
    speech = np.concatenate([_pad_to_frames(a, pred.shape[1]) for a in np.asarray(audio[rows])])
    log.info("%s: %d dev clips %s, %d frames", model_path, len(rows), rows.tolist(), n_frames)
    render.render_video(video_out, [pred.reshape(n_frames, 2, -1), true.reshape(n_frames, 2, -1)],
                        [f"prediction ({model.method})", "ground truth"], speech, AUDIO_RATE, FPS,
                        panel=panel, captions=captions, threads=threads)
    return {"clips": len(rows), "frames": n_frames}


def _pad_to_frames(audio, frames):
    """A clip's 68266 samples padded to its 64 frames' exact duration (68266.7), so clips stay in sync."""
    n = int(round(frames * AUDIO_RATE / FPS))
    return np.pad(np.asarray(audio, np.float32)[:n], (0, max(0, n - len(audio))))
