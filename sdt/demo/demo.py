"""Rule demo: a trained model driven by any speech -> a skeleton video with that speech (the release's demo mode
and its signature figure) and a strip image.

Any audio file ffmpeg reads (wav, mp3, a video's sound track) is decoded to mono 16 kHz.  The generator was
trained on 64-frame clips, so long audio is cut into consecutive 64-frame windows (68266 samples each, a window
starting every 64 / 15 s); the last window is zero-padded and its poses trimmed, so the video has exactly
``ceil(samples * 15 / 16000)`` frames and no speech is ever dropped.  Windows are generated independently (as
the release's 64-frame clips are), so a pose may jump at a window boundary.

Templates (docs/networks.md §3) pick the look of the gestures: ``template`` mode drives one template over the whole
speech, ``morph`` moves linearly from one template to another across the video (one template per window), and
``grid`` shows K templates on the same speech side by side, the release's signature figure.  Methods without
templates (Speech2Gesture, the ablations without templates, Audio to Body Dynamics, MoGlow): only ``template``
mode, without a template; MoGlow draws each window's latent from (seed, window) at its temperature.
"""

import logging
import math

import numpy as np

from sdt import render
from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS, clip_samples
from sdt.device import pick_device
from sdt.media import decode_audio, is_silent
from sdt.poses import load_stats

log = logging.getLogger(__name__)

MODES = ("grid", "template", "morph")
BATCH = 16  # windows per forward pass


def frame_count(n_samples, fps=FPS, rate=AUDIO_RATE):
    """Video frames that cover ``n_samples`` of audio (a partial last frame counts)."""
    return max(1, math.ceil(n_samples * fps / rate - 1e-9))


def split_windows(audio, frames=CLIP_FRAMES, fps=FPS, rate=AUDIO_RATE):
    """audio [S] -> (windows [W, 68266] float32, n_frames): window w starts at sample round(w * 64 * 16000 / 15)
    (no drift over long audio); the tail past the audio is zeros.  W = ceil(n_frames / 64)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    n_frames = frame_count(len(audio), fps, rate)
    n_win = math.ceil(n_frames / frames)
    size = clip_samples(frames, fps, rate)
    out = np.zeros((n_win, size), np.float32)
    for w in range(n_win):
        start = int(round(w * frames * rate / fps))
        chunk = audio[start:start + size]
        out[w, :len(chunk)] = chunk
    return out, n_frames


def morph_templates(a, b, n):
    """``n`` templates moving linearly from ``a`` (first) to ``b`` (last): [n, D] (or [n, D, 64] frame-wise)."""
    a = np.asarray(a)
    alpha = (np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)).reshape(n, *[1] * a.ndim)
    return ((1 - alpha) * np.asarray(a, np.float64) + alpha * np.asarray(b, np.float64)).astype(np.float32)


def predict_windows(model, windows, templates=None, batch=BATCH, seed=0):
    """The model's poses for each window: windows [W, 68266], templates [W, D] or None -> [W * 64, 2, 121].
    MoGlow draws window w's latent from (seed, w)."""
    out = []
    for i in range(0, len(windows), batch):
        tpl = None if templates is None else templates[i:i + batch]
        if model.family.latent == "noise":  # MoGlow: window w's latent from (seed, w)
            tpl = model.noise(seed, range(i, min(i + batch, len(windows))))
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


def demo_poses(model, audio, mode="grid", indices=(), count=4, seed=0):
    """Poses for a demo: -> (list of [n_frames, 2, 121] per panel, panel titles, per-frame captions or None)."""
    windows, n_frames = split_windows(audio)
    pad = len(windows) * CLIP_FRAMES - n_frames
    log.info("%.2f s of audio = %d frames -> %d windows of %d frames (the last padded by %d frames)",
             len(audio) / AUDIO_RATE, n_frames, len(windows), CLIP_FRAMES, pad)
    if model.templates is None:
        if mode != "template":
            raise ValueError(f"{model.method} has no templates: mode '{mode}' needs them, use mode 'template'")
        log.info("%s has no templates: one prediction from the audio alone", model.method)
        return [predict_windows(model, windows, seed=seed)[:n_frames]], [model.method], None
    table = model.templates.detach().cpu().numpy()
    rows = choose_templates(len(table), mode, indices, count, seed)
    log.info("mode %s with template rows %s of %d", mode, rows, len(table))
    if mode == "morph":
        tpl = morph_templates(table[rows[0]], table[rows[1]], len(windows))
        alpha = np.repeat(np.linspace(0, 1, len(windows)) if len(windows) > 1 else [0.0], CLIP_FRAMES)
        captions = [f"template {rows[0]} -> {rows[1]}: {a:.2f}" for a in alpha[:n_frames]]
        return [predict_windows(model, windows, tpl)[:n_frames]], [f"morph {rows[0]} -> {rows[1]}"], captions
    seqs = [predict_windows(model, windows, np.repeat(table[r:r + 1], len(windows), 0))[:n_frames] for r in rows]
    return seqs, [f"template {r}" for r in rows], None


def run_demo(model_path, stats_path, audio_path, video_out, strip_out, mode="grid", indices=(), count=4, seed=0,
             strip_frames=8, device=None, threads=0, panel=None, pose_vae=None, index_csv=None, temperature=None):
    """A demo video (and its strip image) of the model at ``model_path`` (ours or the authors'; a release SDT-VAE
    takes its templates from ``pose_vae``) driven by any audio file.  ``panel`` (H, W) of each panel: default
    1280x720 for one panel (the release's canvas), 480x540 in a grid.  ``index_csv``: see
    :func:`sdt.inference.load_gesture_model`.  ``temperature``: MoGlow's sampling temperature (None = 1)."""
    from sdt.inference import load_gesture_model

    if mode not in MODES:
        raise ValueError(f"demo mode must be one of {MODES}, got {mode!r}")
    model = load_gesture_model(model_path, pick_device(device, threads), stats=load_stats(stats_path),
                               pose_vae=pose_vae, index_csv=index_csv,
                               temperature=1.0 if temperature is None else temperature)
    audio = decode_audio(audio_path, AUDIO_RATE)
    if is_silent(audio):
        log.warning("%s is silent: the gestures will show what the model does without speech", audio_path)
    seqs, titles, captions = demo_poses(model, audio, mode, indices, count, seed)
    panel = panel or (render.CANVAS if len(seqs) == 1 else (540, 480))
    render.render_video(video_out, seqs, titles, audio, AUDIO_RATE, FPS, panel=panel, captions=captions,
                        threads=threads)
    render.save_png(strip_out, render.strip_image(seqs, titles, n=strip_frames))
    return {"frames": len(seqs[0]), "windows": math.ceil(len(seqs[0]) / CLIP_FRAMES), "panels": len(seqs)}
