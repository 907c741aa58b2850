"""Demo videos of a trained model (the release's demo mode and its signature figure) and renderings of dataset
clips: prediction next to ground truth.

Any audio file ffmpeg reads (wav, mp3, a video's sound track) is decoded to mono 16 kHz.  The generator was
trained on 64-frame clips, so long audio is cut into consecutive 64-frame windows (68266 samples each, a window
starting every 64 / 15 s); the last window is zero-padded and its poses trimmed, so the video has exactly
``ceil(samples * 15 / 16000)`` frames and no speech is ever dropped.  Windows are generated independently (as
the release's 64-frame clips are), so a pose may jump at a window boundary.

Templates (SDT_SPEC 5) pick the look of the gestures: ``template`` mode drives one template over the whole
speech, ``morph`` moves linearly from one template to another across the video (one template per window), and
``grid`` shows K templates on the same speech side by side, the release's signature figure.  Speech2Gesture has
no templates: only ``template`` mode, without a template.
"""

import logging
import math

import numpy as np
import pandas as pd

from sdt import render
from sdt.audio import SAMPLE_RATE
from sdt.errors import InputError
from sdt.io import atomic_path
from sdt.media import decode_audio, is_silent
from sdt.poses import load_stats, to_121

log = logging.getLogger(__name__)

FPS = 15
WINDOW_FRAMES = 64
MODES = ("grid", "template", "morph")
BATCH = 16  # windows per forward pass


def window_samples(frames=WINDOW_FRAMES, fps=FPS, rate=SAMPLE_RATE):
    return int(frames * rate / fps)  # 68266: the clip length of SDT_SPEC 2.6


def frame_count(n_samples, fps=FPS, rate=SAMPLE_RATE):
    """Video frames that cover ``n_samples`` of audio (a partial last frame counts)."""
    return max(1, math.ceil(n_samples * fps / rate - 1e-9))


def split_windows(audio, frames=WINDOW_FRAMES, fps=FPS, rate=SAMPLE_RATE):
    """audio [S] -> (windows [W, 68266] float32, n_frames): window w starts at sample round(w * 64 * 16000 / 15)
    (no drift over long audio); the tail past the audio is zeros.  W = ceil(n_frames / 64)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    n_frames = frame_count(len(audio), fps, rate)
    n_win = math.ceil(n_frames / frames)
    size = window_samples(frames, fps, rate)
    out = np.zeros((n_win, size), np.float32)
    for w in range(n_win):
        start = int(round(w * frames * rate / fps))
        chunk = audio[start:start + size]
        out[w, :len(chunk)] = chunk
    return out, n_frames


def morph_templates(a, b, n):
    """``n`` templates moving linearly from ``a`` (first) to ``b`` (last): [n, D]."""
    alpha = np.linspace(0.0, 1.0, n)[:, None] if n > 1 else np.zeros((1, 1))
    return ((1 - alpha) * np.asarray(a, np.float64) + alpha * np.asarray(b, np.float64)).astype(np.float32)


def predict_windows(model, windows, templates=None, batch=BATCH):
    """Generator output for each window: windows [W, 68266], templates [W, D] or None -> [W * 64, 2, 121]."""
    out = []
    for i in range(0, len(windows), batch):
        tpl = None if templates is None else templates[i:i + batch]
        out.append(np.asarray(model.predict(windows[i:i + batch], tpl).cpu()))
    poses = np.concatenate(out)  # [W, 64, 2, 121]
    return poses.reshape(-1, *poses.shape[2:])


def choose_templates(n_available, mode, indices, count, seed):
    """The template rows a demo uses: ``indices`` when given (checked), else drawn with ``seed``: one for
    template mode, two for morph, ``count`` for grid."""
    want = {"template": 1, "morph": 2, "grid": count}[mode]
    if indices:
        indices = [int(i) for i in indices]
        bad = [i for i in indices if not 0 <= i < n_available]
        if bad:
            raise ValueError(f"template index {bad} out of range: the model has {n_available} templates "
                             f"(0-{n_available - 1})")
        if mode == "morph" and len(indices) != 2:
            raise ValueError(f"morph mode needs exactly two template indices, got {indices}")
        return indices[:1] if mode == "template" else indices
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n_available, size=min(want, n_available), replace=False).tolist())


def _device(device, threads=0):
    """``device``, else cuda when there is one; ``threads`` (the rule's) caps torch's CPU threads."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device is not None:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def demo_poses(model, audio, mode="grid", indices=(), count=4, seed=0):
    """Poses for a demo: -> (list of [n_frames, 2, 121] per panel, panel titles, per-frame captions or None)."""
    windows, n_frames = split_windows(audio)
    pad = len(windows) * WINDOW_FRAMES - n_frames
    log.info("%.2f s of audio = %d frames -> %d windows of %d frames (the last padded by %d frames)",
             len(audio) / SAMPLE_RATE, n_frames, len(windows), WINDOW_FRAMES, pad)
    if model.templates is None:
        if mode != "template":
            raise ValueError(f"{model.method} has no templates: mode '{mode}' needs them, use mode 'template'")
        log.info("%s has no templates: one prediction from the audio alone", model.method)
        return [predict_windows(model, windows)[:n_frames]], [model.method], None
    table = model.templates.detach().cpu().numpy()
    rows = choose_templates(len(table), mode, indices, count, seed)
    log.info("mode %s with template rows %s of %d", mode, rows, len(table))
    if mode == "morph":
        tpl = morph_templates(table[rows[0]], table[rows[1]], len(windows))
        alpha = np.repeat(np.linspace(0, 1, len(windows)) if len(windows) > 1 else [0.0], WINDOW_FRAMES)
        captions = [f"template {rows[0]} -> {rows[1]}: {a:.2f}" for a in alpha[:n_frames]]
        return [predict_windows(model, windows, tpl)[:n_frames]], [f"morph {rows[0]} -> {rows[1]}"], captions
    seqs = [predict_windows(model, windows, np.repeat(table[r:r + 1], len(windows), 0))[:n_frames] for r in rows]
    return seqs, [f"template {r}" for r in rows], None


def run_demo(model_path, stats_path, audio_path, video_out, strip_out, mode="grid", indices=(), count=4, seed=0,
             strip_frames=8, device=None, threads=0, panel=None):
    """A demo video (and its strip image) of the model at ``model_path`` driven by any audio file.  ``panel``
    (H, W) of each panel: default 1280x720 for one panel (the release's canvas), 480x540 in a grid."""
    from sdt.inference import load_gesture_model

    if mode not in MODES:
        raise ValueError(f"demo mode must be one of {MODES}, got {mode!r}")
    model = load_gesture_model(model_path, _device(device, threads), stats=load_stats(stats_path))
    audio = decode_audio(audio_path, SAMPLE_RATE)
    if is_silent(audio):
        log.warning("%s is silent: the gestures will show what the model does without speech", audio_path)
    seqs, titles, captions = demo_poses(model, audio, mode, indices, count, seed)
    panel = panel or (render.CANVAS if len(seqs) == 1 else (540, 480))
    render.render_video(video_out, seqs, titles, audio, SAMPLE_RATE, FPS, panel=panel, captions=captions,
                        threads=threads)
    render.save_png(strip_out, render.strip_image(seqs, titles, n=strip_frames))
    return {"frames": len(seqs[0]), "windows": math.ceil(len(seqs[0]) / WINDOW_FRAMES), "panels": len(seqs)}


def _clip_labels(index_csv, rows):
    """'video @ start s' for dev clips ``rows`` (their index in dev_*.npy) from clips.csv."""
    if index_csv is None:
        return {r: f"dev clip {r}" for r in rows}
    table = pd.read_csv(index_csv)
    dev = table[table["dataset"].astype(str) == "dev"].set_index("index")
    return {r: (f"dev clip {r}: {dev.at[r, 'video_fn']} @ {float(dev.at[r, 'start']):.1f} s" if r in dev.index
                else f"dev clip {r}") for r in rows}


def render_clips(model_path, stats_path, dev_poses, dev_audio, video_out, index_csv=None, n_clips=4, seed=0,
                 device=None, threads=0, panel=(540, 480)):
    """Prediction next to ground truth on ``n_clips`` evenly spaced dev clips, one after the other, with
    their speech.  SDT models use a template row drawn with ``seed`` per clip (the release's test default)."""
    from sdt.inference import load_gesture_model

    stats = load_stats(stats_path)
    poses = np.load(dev_poses, mmap_mode="r")
    audio = np.load(dev_audio, mmap_mode="r")
    if len(poses) == 0:
        raise InputError(dev_poses, "no dev clips to render")
    rows = np.unique(np.round(np.linspace(0, len(poses) - 1, min(n_clips, len(poses)))).astype(int))
    model = load_gesture_model(model_path, _device(device, threads), stats=stats)
    tpl = None
    if model.templates is not None:
        pick = np.random.default_rng(seed).integers(len(model.templates), size=len(rows))
        tpl = model.templates.detach().cpu().numpy()[pick]
    pred = np.asarray(model.predict(np.asarray(audio[rows]), tpl).cpu())  # [n, 64, 2, 121]
    true = to_121(np.asarray(poses[rows], np.float32)) * stats["scale_factor"]  # final results (SDT_SPEC 1.3)
    labels = _clip_labels(index_csv, rows.tolist())
    captions = [labels[r] for r in rows for _ in range(pred.shape[1])]
    n_frames = len(rows) * pred.shape[1]
    speech = np.concatenate([_pad_to_frames(a, pred.shape[1]) for a in np.asarray(audio[rows])])
    log.info("%s: %d dev clips %s, %d frames", model_path, len(rows), rows.tolist(), n_frames)
    render.render_video(video_out, [pred.reshape(n_frames, 2, -1), true.reshape(n_frames, 2, -1)],
                        [f"prediction ({model.method})", "ground truth"], speech, SAMPLE_RATE, FPS,
                        panel=panel, captions=captions, threads=threads)
    return {"clips": len(rows), "frames": n_frames}


def _pad_to_frames(audio, frames):
    """A clip's 68266 samples padded to its 64 frames' exact duration (68266.7), so clips stay in sync."""
    n = int(round(frames * SAMPLE_RATE / FPS))
    return np.pad(np.asarray(audio, np.float32)[:n], (0, max(0, n - len(audio))))


# -- the espeak-ng demo speech --------------------------------------------------------------------------------

# Different from the sample videos' sentences (sdt.dataset.make_sample_video.SENTENCES), so the demo speech is unseen.
DEMO_SENTENCES = (
    "Welcome to this short demonstration of gestures generated from speech.",
    "Every movement you see was predicted from the sound of my voice alone.",
    "A template decides the overall style, and the audio adds the details.",
    "Try a different template, and the same words get a different performance.",
    "Quiet moments should bring calm hands, while loud words bring bigger moves.",
    "This video was made by a workflow that anybody can run again from scratch.",
)
DEMO_VOICE = {"speed": 160, "pitch": 50}


def make_demo_audio(out_wav, seed=0, sentences=3, espeak="espeak-ng"):
    """Deterministic demo speech: ``sentences`` of DEMO_SENTENCES (picked with ``seed``) by espeak-ng, with
    short pauses, as a 16 kHz mono wav.  Its length is no multiple of 64 frames, so the demo pads a window."""
    import soundfile
    import soxr

    from sdt.dataset.make_sample_video import speak

    order = np.random.default_rng(seed).permutation(len(DEMO_SENTENCES))[:sentences]
    parts = [np.zeros(int(0.3 * SAMPLE_RATE), np.float32)]
    for i in order:
        samples, rate = speak(DEMO_SENTENCES[i], DEMO_VOICE["speed"], DEMO_VOICE["pitch"], espeak)
        parts += [soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32),
                  np.zeros(int(0.5 * SAMPLE_RATE), np.float32)]
    audio = np.clip(np.concatenate(parts), -1.0, 1.0)
    with atomic_path(out_wav, suffix=".wav") as tmp:
        soundfile.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16")
    log.info("wrote %s: %.2f s, sentences %s", out_wav, len(audio) / SAMPLE_RATE, order.tolist())
    return len(audio) / SAMPLE_RATE
