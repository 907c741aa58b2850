"""Demo videos and dev-clip renderings (sdt/demo/demo.py) with a real model checkpoint (random weights, written the
way training writes it), real ffmpeg and espeak-ng: windows over long audio, template choice, morph, grid."""

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
from test_render import synthetic_poses

from sdt.checkpoint import load_checkpoint, save_checkpoint
from sdt.constants import AUDIO_RATE
from sdt.demo import demo
from sdt.demo.make_demo_audio import DEMO_SENTENCES, make_demo_audio
from sdt.demo.render_clips import render_clips
from sdt.errors import InputError
from sdt.io import save_npz
from sdt.layout import KEEP_121, NECK
from sdt.media import decode_audio, probe, run_ffmpeg
from sdt.poses import load_stats, to_parted
from sdt.train.run import Run

RATE = 16000
WIN = 68266  # samples of one 64-frame window
PANEL = (120, 160)


@pytest.fixture(scope="module")
def stats_path(tmp_path_factory):
    """Speaker statistics around a plausible mean pose (px), so even random weights draw a body."""
    path = tmp_path_factory.mktemp("speaker") / "stats.npz"
    mean = synthetic_poses(1)[0]
    save_npz(path, mean_global=mean, std_global=np.full((2, 121), 4, np.float32), mean_parted=to_parted(mean),
             std_parted=np.full((2, 121), 2, np.float32), scale_factor=np.float64(0.95),
             scale_rule=np.str_("test"), n_train_clips=np.int64(6))
    return path


def from_121(p121, neck):
    """[..., 2, 121] neck-relative -> [..., 2, 137] absolute px at ``neck`` [2]; the 15 dropped points at (0, 0)."""
    out = np.zeros((*p121.shape[:-1], 137), p121.dtype)
    out[..., KEEP_121] = p121 + neck[:, None]
    out[..., NECK] = neck
    return out

def _checkpoint(path, method, stats_path, n_train=6, dim=8):
    """A model file exactly as sdt.train.train writes it (Run.payload), with random weights and templates."""
    torch.manual_seed(0)
    settings = {"template_dim": dim, "lr": 1e-4, "epochs": 1, "lr_milestones": [-10, -2], "lr_gamma": 0.1,
                "seed": 0}
    templates = torch.randn(n_train, dim).numpy() * 3 if method == "sdt_vae" else None
    run = Run(method, settings, load_stats(stats_path), n_train, torch.device("cpu"), templates)
    save_checkpoint(path, run.payload(with_optimisers=False))
    return path


@pytest.fixture(scope="module")
def sdt_model(tmp_path_factory, stats_path):
    return _checkpoint(tmp_path_factory.mktemp("models") / "sdt_vae.pt", "sdt_vae", stats_path)


@pytest.fixture(scope="module")
def loaded(sdt_model, stats_path):
    from sdt.inference import load_gesture_model

    return load_gesture_model(sdt_model, "cpu", stats=load_stats(stats_path))


def speech(seconds, seed=0):
    """Noise bursts at syllable rate: speech-like loudness changes."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * RATE))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / RATE)
    return (0.2 * envelope * rng.normal(size=n)).astype(np.float32)


def test_windows_cover_long_audio_without_cropping():
    audio = speech(2 * WIN / RATE + 0.3)  # 2 windows and 0.3 s
    windows, n_frames = demo.split_windows(audio)
    assert n_frames == int(np.ceil(len(audio) * 15 / RATE)) and len(windows) == 3 == np.ceil(n_frames / 64)
    assert windows.shape == (3, WIN)
    for w, start in enumerate((0, 68267, 136533)):  # round(w * 64 * 16000 / 15): no drift
        n = min(WIN, len(audio) - start)
        assert np.array_equal(windows[w, :n], audio[start:start + n])
    assert not windows[2, len(audio) - 136533:].any()  # the last window is padded with silence
    exact = speech(136533 / RATE)  # 128 frames of audio (less 1/3 sample): two windows, not three
    assert demo.split_windows(exact)[0].shape[0] == 2
    assert demo.frame_count(1) == 1 and demo.frame_count(RATE) == 15


def test_morph_goes_from_the_first_template_to_the_second():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    path = demo.morph_templates(a, b, 5)
    assert path.shape == (5, 8)
    assert np.allclose(path[0], a) and np.allclose(path[-1], b) and np.allclose(path[2], (a + b) / 2)
    assert np.allclose(np.diff(path, axis=0), (b - a) / 4, atol=1e-6)  # linear
    assert np.allclose(demo.morph_templates(a, b, 1), a)


def test_template_choice():
    assert demo.choose_templates(10, "grid", [3, 1, 7], 4, 0) == [3, 1, 7]
    assert demo.choose_templates(10, "template", [5], 4, 0) == [5]
    drawn = demo.choose_templates(10, "grid", [], 4, seed=1)
    assert len(set(drawn)) == 4 and drawn == demo.choose_templates(10, "grid", [], 4, seed=1)
    assert len(demo.choose_templates(3, "grid", [], 9, 0)) == 3  # never more than the table holds
    with pytest.raises(ValueError, match=r"out of range: the model has 10 templates \(0-9\)"):
        demo.choose_templates(10, "grid", [2, 10], 4, 0)
    with pytest.raises(ValueError, match="exactly two"):
        demo.choose_templates(10, "morph", [1, 2, 3], 4, 0)


def test_audio_of_any_format_is_read_at_16k_mono(tmp_path):
    mp3 = tmp_path / "talk.mp3"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100:duration=2.5", "-ac", "2", mp3], mp3,
               "mp3 encoding")
    audio = decode_audio(mp3, AUDIO_RATE)
    assert audio.dtype == np.float32 and abs(len(audio) - 2.5 * RATE) < 0.05 * RATE
    assert 0.05 < np.abs(audio).max() <= 1.0
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    with pytest.raises(InputError, match="notes.txt"):
        decode_audio(text, AUDIO_RATE)


def test_demo_video_covers_long_audio_frame_for_frame(tmp_path, sdt_model, stats_path):
    audio = speech(5.3)  # 79.5 frames -> 80 frames in 2 windows, the second one padded
    wav = tmp_path / "talk.wav"
    soundfile.write(wav, audio, RATE)
    out, strip = tmp_path / "demo.mp4", tmp_path / "demo.png"
    result = demo.run_demo(sdt_model, stats_path, wav, out, strip, mode="grid", count=3, strip_frames=4,
                           device="cpu", panel=PANEL)
    info = probe(out)
    assert result == {"frames": 80, "windows": 2, "panels": 3}
    assert info["n_frames"] == 80 == demo.frame_count(len(audio)) and info["fps"] == 15
    assert (info["width"], info["height"]) == (2 * PANEL[1], 2 * PANEL[0])  # 3 templates: a 2 x 2 grid
    assert info["has_audio"] and info["duration"] == pytest.approx(80 / 15, abs=0.01)
    import cv2

    img = cv2.imread(str(strip))
    assert img is not None and img.shape[0] > 3 * 360  # one row per template


def test_morph_and_grid_poses(loaded):
    audio = speech(9.0)  # 135 frames, 3 windows
    grid, grid_titles, _ = demo.demo_poses(loaded, audio, "grid", [0, 3])
    one_a, one_b = grid
    assert grid_titles == ["template 0", "template 3"] and one_a.shape == (135, 2, 121)
    assert np.isfinite(one_a).all() and not np.allclose(one_a, one_b)
    morph, titles, captions = demo.demo_poses(loaded, audio, "morph", [0, 3])
    assert len(morph) == 1 and morph[0].shape == (135, 2, 121) and len(captions) == 135
    assert np.allclose(morph[0][:64], one_a[:64], atol=1e-4)  # the first window uses template 0 as it is
    assert np.allclose(morph[0][128:], one_b[128:], atol=1e-4)  # the last one template 3
    middle = morph[0][64:128]  # in between: the halfway template, a different pose
    assert not np.allclose(middle, one_a[64:128], atol=1e-3) and not np.allclose(middle, one_b[64:128], atol=1e-3)


def test_a_model_without_templates_has_template_mode_only(tmp_path, stats_path):
    from sdt.inference import load_gesture_model

    s2g = load_gesture_model(_checkpoint(tmp_path / "s2g.pt", "s2g", stats_path), "cpu")
    with pytest.raises(ValueError, match="s2g has no templates"):
        demo.demo_poses(s2g, speech(1.0), "grid")
    seqs, titles, _ = demo.demo_poses(s2g, speech(1.0), "template")
    assert titles == ["s2g"] and seqs[0].shape == (15, 2, 121)


def test_render_clips_prediction_next_to_ground_truth(tmp_path, sdt_model, stats_path):
    true = synthetic_poses(64 * 3).reshape(3, 64, 2, 121)
    raw = from_121(true, neck=np.array([640.0, 300.0]))  # [3, 64, 2, 137] absolute px
    poses = np.concatenate([raw, np.ones((3, 64, 1, 137), np.float32)], axis=2)
    np.save(tmp_path / "dev_poses.npy", poses.astype(np.float32))
    np.save(tmp_path / "dev_audio.npy", np.stack([speech(WIN / RATE, s) for s in range(3)]))
    n_train = len(load_checkpoint(sdt_model)["templates"])  # one train row per template (checked by render_clips)
    pd.DataFrame({"dataset": ["train"] * n_train + ["dev"] * 3, "start": [0] * n_train + [10, 20, 30.5], "end": 0,
                  "interval_id": "x", "video_fn": ["a.mp4"] * n_train + ["talk.mp4"] * 3, "speaker": "s",
                  "start_frame": 0, "end_frame": 64, "index": [*range(n_train), 0, 1, 2]}
                 ).to_csv(tmp_path / "clips.csv")
    out = tmp_path / "render.mp4"
    result = render_clips(sdt_model, stats_path, tmp_path / "dev_poses.npy", tmp_path / "dev_audio.npy", out,
                               index_csv=tmp_path / "clips.csv", n_clips=2, device="cpu", panel=PANEL)
    info = probe(out)
    assert result == {"clips": 2, "frames": 128} and info["n_frames"] == 128
    assert info["has_audio"] and info["duration"] == pytest.approx(128 / 15, abs=0.01)
    assert (info["width"], info["height"]) == (2 * PANEL[1], PANEL[0] + 18)  # two panels and a caption band
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((0, 64, 3, 137), np.float32))
    with pytest.raises(InputError, match="no dev clips"):
        render_clips(sdt_model, stats_path, empty, tmp_path / "dev_audio.npy", tmp_path / "none.mp4")


def test_demo_speech_is_deterministic_and_unseen(tmp_path, espeak):
    from sdt.dataset.make_sample_video import SENTENCES

    assert not set(DEMO_SENTENCES) & set(SENTENCES)
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    seconds = make_demo_audio(a, seed=0, espeak=espeak)
    make_demo_audio(b, seed=0, espeak=espeak)
    assert a.read_bytes() == b.read_bytes()
    audio, rate = soundfile.read(a)
    assert rate == RATE and audio.ndim == 1 and seconds == pytest.approx(len(audio) / RATE)
    assert seconds > 2 * 64 / 15  # long enough for several windows
    assert demo.frame_count(len(audio)) % 64  # and the last window is a partial one
