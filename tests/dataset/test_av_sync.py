"""sdt.dataset.av_sync and generate_clips' sync check: a mouth that opens with the syllables of a synthetic speech
track, the track shifted by a known lag (in the samples, and with ffmpeg's -itsoffset as the issue found it)."""

import logging

import numpy as np
import pytest
import soundfile
from test_clean import make_pose, save_keypoints
from test_generate_clips import ffmpeg

from sdt.dataset.av_sync import MOUTH, Sync, measure_sync, shift_audio
from sdt.dataset.generate_clips import generate_clips
from sdt.dataset.qc_table import video_row
from sdt.dataset.remove_outliers import remove_outliers
from sdt.io import load_npz

FPS, RATE, SECONDS = 15, 16000, 40


def syllables(n_frames, seed=0):
    """A speech-like loudness per frame [T] in [0, 1]: bursts of 2-6 frames with pauses between."""
    rng = np.random.default_rng(seed)
    env, t = np.zeros(n_frames), 0
    while t < n_frames:
        length = rng.integers(2, 7)
        env[t:t + length] = rng.uniform(0.4, 1.0)
        t += length + rng.integers(1, 8)
    return env


def speech(env, seed=1):
    """Noise whose loudness follows ``env`` (one value a frame), RATE samples a second."""
    loud = np.repeat(env, RATE // FPS)  # constant over each frame's samples
    return (0.3 * loud * np.random.default_rng(seed).standard_normal(len(loud))).astype(np.float32)


def talking_pose(env):
    """make_pose with the inner lips apart by 2 + 12 * env px (plus noise)."""
    pose = make_pose(len(env))
    noise = np.random.default_rng(2).normal(0, 0.5, len(env))
    pose[:, :2, MOUTH[0]] = [640.0, 300.0]
    pose[:, 0, MOUTH[1]] = 640
    pose[:, 1, MOUTH[1]] = 300 + 2 + 12 * env + noise
    return pose


ENV = syllables(SECONDS * FPS)
POSE = talking_pose(ENV)
VALID = np.ones(len(ENV), bool)


@pytest.mark.parametrize("lag", [0, 1, 2, 3, -5, 15, 30])
def test_the_lag_of_shifted_speech_is_found(lag):
    audio = speech(ENV)
    k = round(lag * RATE / FPS)  # samples
    late = np.concatenate([np.zeros(k, np.float32), audio]) if k >= 0 else audio[-k:]
    sync = measure_sync(POSE, VALID, late, RATE, FPS)
    assert sync.lag_frames == lag and sync.r > 0.8
    assert sync.out_of_sync == (abs(lag) >= 2)  # 1 frame (67 ms) is within what viewers accept
    back = shift_audio(late, sync.lag_frames, RATE, FPS)
    n = min(len(back), len(audio)) - RATE
    np.testing.assert_array_equal(back[RATE:n], audio[RATE:n])  # in sync again (away from the ends)


def test_a_still_mouth_or_too_few_frames_measure_nothing():
    audio = speech(ENV)
    still = POSE.copy()
    still[:, 1, MOUTH[1]] = 305
    assert measure_sync(still, VALID, audio, RATE, FPS) is None
    few = np.zeros(len(ENV), bool)
    few[:30] = True
    assert measure_sync(POSE, few, audio, RATE, FPS) is None


def test_an_unrelated_track_is_not_called_out_of_sync():
    """A flat correlation decides nothing: no lag gains MIN_GAIN over lag 0 on speech of another take."""
    sync = measure_sync(POSE, VALID, speech(syllables(len(ENV), seed=7), seed=8), RATE, FPS)
    assert abs(sync.r) < 0.3 and not sync.out_of_sync


def test_describe():
    assert Sync(15, 0.93, 0.04, 600, 15.0).describe() == \
        "audio late by 15 frames (1000 ms): mouth-speech r 0.93 there, 0.04 at 0"
    assert Sync(0, 0.93, 0.93, 600, 15.0).describe() == "in sync (mouth-speech r 0.93 at lag 0)"


@pytest.fixture(scope="module")
def late_video(tmp_path_factory):
    """(a video whose audio starts 1 s late via -itsoffset 1, as the issue made it; its keypoints; outliers)."""
    folder = tmp_path_factory.mktemp("late")
    soundfile.write(folder / "speech.wav", speech(ENV), RATE)
    video = folder / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate={FPS}:duration={SECONDS}", "-itsoffset", "1", "-i",
           folder / "speech.wav", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-b:a", "64k", video)
    keypoints = save_keypoints(folder / "kp.npz", POSE)
    remove_outliers(keypoints, folder / "outliers.npz")
    return video, keypoints, folder / "outliers.npz"


@pytest.mark.parametrize("mode", ["report", "correct"])
def test_generate_clips_measures_reports_and_corrects_the_lag(late_video, tmp_path, caplog, mode):
    video, keypoints, outliers = late_video
    out = tmp_path / "clips.npz"
    with caplog.at_level(logging.INFO, logger="sdt.dataset.generate_clips"):
        generate_clips(keypoints, outliers, video, out, fps=FPS, skip_frames=0, clip_stride=64, av_sync=mode,
                       progress=False)
    clips = load_npz(out)
    assert int(clips["av_lag_frames"]) == 15 and bool(clips["av_out_of_sync"])
    assert bool(clips["av_corrected"]) == (mode == "correct")
    assert "OUT OF SYNC: audio late by 15 frames (1000 ms)" in caplog.text
    # each clip's speech against its mouth: the lag left inside the clips
    lags = [measure_sync(clips["poses"][i], np.ones(64, bool), clips["audio"][i], RATE, FPS, max_lag_s=1.5)
            for i in range(len(clips["start_frame"]))]
    found = np.median([s.lag_frames for s in lags if s is not None])
    assert found == (0 if mode == "correct" else 15)
    row = video_row(keypoints, outliers, out)
    assert (row["av_lag_frames"], row["av_out_of_sync"], row["av_corrected"]) == (15, 1, int(mode == "correct"))


def test_an_unknown_av_sync_mode_is_refused(late_video, tmp_path):
    with pytest.raises(ValueError, match="av_sync must be one of"):
        generate_clips(*late_video[1:], late_video[0], tmp_path / "c.npz", av_sync="fix")
