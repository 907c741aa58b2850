"""Rule dev_demo_audio: the demo's speech from the speaker's own dev clips, for a config without the sample speaker
(so a run on real data never needs espeak-ng): a few consecutive dev clips of one video, as a 16 kHz mono wav.

Dev clips are never trained on, so the speech is unseen by the models.  Clips overlap (a new one every 5 frames),
so the chosen ones are taken in time order, each starting at least 64 frames after the previous one (with the
release's stride of 5 frames the next clip starts 65 frames on: a gap of one frame, 67 ms, between two pieces).
A released speaker whose csv gives no start times contributes one clip.
"""

import logging

import numpy as np
import pandas as pd

from sdt.constants import AUDIO_RATE, CLIP_FRAMES
from sdt.errors import InputError
from sdt.io import atomic_path

log = logging.getLogger(__name__)

MAX_CLIPS = 3  # 3 x 4.27 s: long enough to show gestures change with the speech


def pick_dev_clips(index_csv, max_clips=MAX_CLIPS):
    """Rows of dev_audio.npy to play one after the other: up to ``max_clips`` non-overlapping dev clips in time order,
    from the video with the most dev clips."""
    table = pd.read_csv(index_csv)
    dev = table[(table["dataset"].astype(str) == "dev") & (table["index"] >= 0)]
    if dev.empty:
        raise InputError(index_csv, "no dev clip to take the demo's speech from")
    video = dev["video_fn"].astype(str).value_counts().index[0]
    dev = dev[dev["video_fn"].astype(str) == video].sort_values(["start_frame", "index"])
    if dev["start_frame"].isna().any():
        return [int(dev["index"].iloc[0])]
    rows, next_start = [], -np.inf
    for start, index in zip(dev["start_frame"], dev["index"], strict=True):
        if start >= next_start and len(rows) < max_clips:
            rows.append(int(index))
            next_start = start + CLIP_FRAMES
    return rows


def dev_demo_audio(dev_audio, index_csv, out_wav, max_clips=MAX_CLIPS):
    """``dev_audio`` [N, 68266] (dev_audio.npy) + clips.csv -> a 16 kHz wav of :func:`pick_dev_clips`' clips.
    Returns their rows."""
    import soundfile

    rows = pick_dev_clips(index_csv, max_clips)
    audio = np.load(dev_audio, mmap_mode="r")
    speech = np.clip(np.concatenate([np.asarray(audio[r], np.float32) for r in rows]), -1.0, 1.0)
    with atomic_path(out_wav, suffix=".wav") as tmp:
        soundfile.write(tmp, speech, AUDIO_RATE, subtype="PCM_16")
    log.info("wrote %s: %.2f s of dev clips %s", out_wav, len(speech) / AUDIO_RATE, rows)
    return rows
