"""sdt/demo/dev_demo_audio.py: the demo's speech from a speaker's own dev clips (no espeak-ng)."""

import numpy as np
import pandas as pd
import pytest
import soundfile

from sdt.demo.dev_demo_audio import dev_demo_audio, pick_dev_clips
from sdt.errors import InputError

L = 68266


def index(tmp_path, rows):
    path = tmp_path / "clips.csv"
    pd.DataFrame(rows, columns=["dataset", "video_fn", "start_frame", "index"]).to_csv(path, index=False)
    return path


def test_consecutive_dev_clips_of_the_video_with_most(tmp_path):
    rows = [("train", "a.mp4", 80 + 5 * k, k) for k in range(5)]
    rows += [("dev", "a.mp4", 400 + 5 * k, k) for k in range(3)]  # 3 dev clips of a
    rows += [("dev", "b.mp4", 300 + 5 * k, 3 + k) for k in range(40)]  # 40 of b, every 5 frames
    rows += [("dev", "b.mp4", 999, -1)]  # a skipped released clip: not in the arrays
    path = index(tmp_path, rows)
    # b's clips starting at 300, 365, 430 (each >= 64 frames after the previous), at most 3
    assert pick_dev_clips(path) == [3, 16, 29]
    assert pick_dev_clips(path, max_clips=5) == [3, 16, 29, 42]  # b has no fifth one that far on
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (43, L)).astype(np.float32)
    np.save(tmp_path / "dev_audio.npy", audio)
    rows_used = dev_demo_audio(tmp_path / "dev_audio.npy", path, tmp_path / "speech.wav")
    wav, rate = soundfile.read(tmp_path / "speech.wav", dtype="float32")
    assert rate == 16000 and rows_used == [3, 16, 29]
    np.testing.assert_allclose(wav, np.concatenate(audio[rows_used]), atol=1 / 32768)  # 16-bit PCM


def test_without_start_times_one_clip_and_without_dev_clips_an_error(tmp_path):
    path = index(tmp_path, [("dev", "a.mp4", None, 0), ("dev", "a.mp4", None, 1)])
    assert pick_dev_clips(path) == [0]
    path = index(tmp_path, [("train", "a.mp4", 80, 0)])
    with pytest.raises(InputError, match="clips.csv: no dev clip"):
        pick_dev_clips(path)
