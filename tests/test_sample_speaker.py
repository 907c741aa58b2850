"""The bundled sample speaker (sdt.dataset.make_sample_video): real espeak-ng speech, the real photo, real ffmpeg.

Videos are 3 s long (the workflow makes 44 s ones); the module makes three: seed 0 twice (determinism) and the
next video index once (videos of one speaker differ)."""

import subprocess

import numpy as np
import pytest

from sdt.dataset.make_sample_video import (
    AUDIO_RATE,
    FPS,
    KEEP_X,
    MAX_ROLL_DEG,
    SIZE,
    camera_path,
    loudness_envelope,
    make_sample_video,
    render_frame,
    synthesize_speech,
    video_index,
)
from sdt.errors import InputError
from sdt.media import ffmpeg_exe, probe, read_audio

SECONDS = 3


def decode_gray(path, size=(160, 90)):
    """Every frame of ``path``, downscaled, as float32 grey [T, h, w]."""
    w, h = size
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vf", f"scale={w}:{h}", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.float32)


def first_frame(path):
    w, h = SIZE
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w)


@pytest.fixture(scope="module")
def videos(messi_photo, espeak, tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    paths = {"a": d / "a.mp4", "again": d / "again.mp4", "next": d / "next.mp4"}
    make_sample_video(messi_photo, paths["a"], SECONDS, seed=0, index=0, espeak=espeak)
    make_sample_video(messi_photo, paths["again"], SECONDS, seed=0, index=0, espeak=espeak)
    make_sample_video(messi_photo, paths["next"], SECONDS, seed=0, index=1, espeak=espeak)
    return paths


def test_video_format(videos):
    info = probe(videos["a"])
    assert (info["width"], info["height"], info["fps"], info["n_frames"]) == (1280, 720, 25.0, SECONDS * FPS)
    assert not info["vfr"] and info["has_audio"] and info["audio_codec"] == "aac"
    assert info["duration"] == pytest.approx(SECONDS, abs=1 / FPS)
    assert abs(len(read_audio(videos["a"], 16000)) / 16000 - SECONDS) <= 1024 / AUDIO_RATE  # one AAC frame


def test_same_seed_same_bytes_other_index_other_video(videos):
    assert videos["a"].read_bytes() == videos["again"].read_bytes()
    assert videos["a"].read_bytes() != videos["next"].read_bytes()
    a, b = read_audio(videos["a"], 16000), read_audio(videos["next"], 16000)
    n = min(len(a), len(b))
    assert np.abs(a[:n] - b[:n]).mean() > 1e-3  # other sentences, not just other bytes


def test_photo_is_letterboxed_not_stretched(videos):
    frame = first_frame(videos["a"])
    cols = np.flatnonzero(frame.max(axis=0) > 40)  # the photo's columns
    width = cols[-1] - cols[0] + 1
    assert width == pytest.approx(720 * 548 / 342, abs=4)  # the photo's aspect ratio at full height
    assert frame[:, :50].max() < 20 and frame[:, -50:].max() < 20  # black bars


def test_motion_follows_loudness(videos):
    """Frame-difference energy (how much the picture changes) correlates with the speech's loudness."""
    frames = decode_gray(videos["a"])
    motion = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # [T-1], between frames t and t+1
    audio = read_audio(videos["a"], 16000)
    edges = np.arange(len(frames) + 1) * 16000 // FPS
    loud = np.array([np.sqrt(np.mean(audio[a:b] ** 2)) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    r = np.corrcoef(motion, (loud[1:] + loud[:-1]) / 2)[0, 1]
    assert r > 0.25, f"correlation of motion and loudness {r:.2f}"  # 0.44 here; 0.35-0.67 over seeds 0-7
    assert motion.max() > 1.0  # the camera does move


def test_speech_has_sentences_and_pauses(espeak):
    audio = synthesize_speech(SECONDS, np.random.default_rng(0), espeak=espeak)
    assert audio.dtype == np.float32 and len(audio) == SECONDS * AUDIO_RATE
    assert np.abs(audio).max() <= 1.0
    loud = loudness_envelope(audio, AUDIO_RATE, SECONDS * FPS)
    assert loud.shape == (SECONDS * FPS,) and loud.max() == 1.0
    assert (loud < 0.05).sum() >= 5 and (loud > 0.5).sum() >= 10  # a pause (the lead-in) and speech
    again = synthesize_speech(SECONDS, np.random.default_rng(0), espeak=espeak)
    np.testing.assert_array_equal(audio, again)


def test_camera_window_stays_inside_the_photo_and_shows_both_hands():
    """At full loudness every rolled, panned, zoomed window sees only the photo (no black enters the picture) and
    always shows the photo's columns KEEP_X, where messi5.jpg's hands are.  The test photo's pixel value encodes
    its column: 10 + 240 * x / width."""
    w, h = 548, 342
    photo = np.repeat(np.round(10 + 240 * np.arange(w) / w).astype(np.uint8)[None, :, None], h, 0).repeat(3, 2)
    cams = camera_path(np.ones(300), (w, h), np.random.default_rng(1))
    assert np.abs(cams[:, 3]).max() <= MAX_ROLL_DEG and np.ptp(cams[:, 1]) > 10 and np.ptp(cams[:, 3]) > 4
    content = slice(63, 63 + 1154)  # the photo's 1154x720 inside the letterbox bars
    for cam in cams[::7]:
        view = render_frame(photo, *cam)[:, content, 0].astype(float)
        assert view.min() >= 9  # no black
        seen_left, seen_right = (view[:, :2].max() - 10) / 240 * w, (view[:, -2:].min() - 10) / 240 * w
        assert seen_left <= KEEP_X[0] * w + 2 and seen_right >= KEEP_X[1] * w - 2, cam


def test_silence_keeps_the_camera_still():
    cams = camera_path(np.zeros(50), (548, 342), np.random.default_rng(0))
    assert np.ptp(cams, axis=0).max() < 1e-9


def test_bad_photo_and_video_index(tmp_path, espeak):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="photo.jpg"):
        make_sample_video(bad, tmp_path / "out.mp4", 2, seed=0, espeak=espeak)
    assert not (tmp_path / "out.mp4").exists()
    assert (video_index("sample03"), video_index("sample"), video_index("x12")) == (3, 0, 12)
