"""Clip generation (docs/dataset.md §11): a video's rescaled keypoints + its audio -> fixed-length training clips.

Windows start at ``skip_frames`` and every ``clip_stride`` frames after it, up to but excluding ``T - clip_frames``
(T frames): ``range(skip, T - 64, stride)`` as the release's clip script, which never cuts the window that ends on
the video's last frame (``last_window=True`` cuts it too, one more window for a video whose T - 64 - skip is a
multiple of the stride).  The window at start frame s covers frames [s, s + clip_frames) and audio samples
[a, a + audio_len) with ``a = int(s / fps * rate)`` and ``audio_len = int(clip_frames * rate / fps)`` (64 frames at
15 fps, 16 kHz: 68266).  Every window is counted once:

  windows_total = n clips + dropped_invalid (a frame of the window is an outlier)
                          + dropped_audio   (no outlier, but the audio ends before the window does)

A video of at most ``skip_frames + clip_frames`` frames has no window: it gives an npz with 0 clips and a warning, not
an error (qc.csv reports it).  A video without a readable audio track is an InputError naming the file.

Output npz: poses float32 [n, clip_frames, 3, 137], audio float32 [n, audio_len], start_frame int64 [n],
audio_start int64 [n], windows_total, dropped_invalid, dropped_audio, n_frames, audio_samples, clip_frames,
clip_stride, skip_frames (ints), fps, audio_rate, video (the video's name).  The clip arrays are gathered and
streamed into the npz a chunk at a time, so memory holds one chunk, never the whole clip set (an hour of video is
~4 GB of clips; measured: a 30 min video's 5007 clips, 1.9 GB, written in ~10 s with a 420 MB peak).
"""

import logging
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS, clip_samples
from sdt.dataset.av_sync import MIN_FRAMES, measure_sync, shift_audio
from sdt.dataset.keypoints import load_keep, load_pose_file
from sdt.dataset.settings import AV_SYNC, DATASET
from sdt.errors import InputError
from sdt.io import atomic_path
from sdt.media import read_audio

log = logging.getLogger(__name__)

CHUNK_CLIPS = 128  # clips per write: ~35 MB of 16 kHz audio + 9 MB of poses
FPS_TOLERANCE = 0.01  # relative difference between the keypoints' fps and the expected fps that is an error


def audio_starts(start_frame, fps, rate):
    """First audio sample of the windows at ``start_frame``: ``int(s / fps * rate)`` in floating point, the formula
    the dataset contract fixes (for ~0.2 % of start frames it is 1 sample below the exact ``s * rate // fps``)."""
    return np.floor(np.asarray(start_frame, dtype=np.int64) / fps * rate).astype(np.int64)


def plan_windows(keep, n_audio, fps, rate, clip_frames=64, clip_stride=5, skip_frames=80, last_window=False):
    """Which windows become clips.  ``keep`` [T] bool (outlier mask), ``n_audio`` samples of audio; ``last_window``:
    also the window that ends on frame T - 1 (the release's ``range(skip, T - 64, stride)`` stops one short).

    Returns a dict: start_frame and audio_start [n] of the clips, windows_total, dropped_invalid, dropped_audio,
    audio_len, and the start frames of the dropped windows (invalid_start, short_start) for the log."""
    keep = np.asarray(keep, dtype=bool)
    starts = np.arange(skip_frames, len(keep) - clip_frames + int(last_window), clip_stride, dtype=np.int64)
    bad = np.concatenate([[0], np.cumsum(~keep, dtype=np.int64)])  # bad[i] = outlier frames before frame i
    invalid = bad[starts + clip_frames] - bad[starts] > 0
    audio_len = clip_samples(clip_frames, fps, rate)
    first = audio_starts(starts, fps, rate)
    short = ~invalid & (first + audio_len > n_audio)
    ok = ~invalid & ~short
    return {
        "start_frame": starts[ok], "audio_start": first[ok], "windows_total": len(starts),
        "dropped_invalid": int(invalid.sum()), "dropped_audio": int(short.sum()), "audio_len": audio_len,
        "invalid_start": starts[invalid], "short_start": starts[short],
    }


def clip_poses(pose, start_frame, clip_frames=64):
    """pose [T, 3, 137] -> float32 [k, clip_frames, 3, 137], the windows at ``start_frame`` (one gather)."""
    start_frame = np.asarray(start_frame, dtype=np.int64)
    return pose[start_frame[:, None] + np.arange(clip_frames)].astype(np.float32, copy=False)


def clip_audio(audio, audio_start, audio_len):
    """audio [S] -> float32 [k, audio_len], the spans at ``audio_start`` (one gather from a sliding-window view)."""
    audio_start = np.asarray(audio_start, dtype=np.int64)
    if len(audio_start) == 0:
        return np.zeros((0, audio_len), dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(audio, audio_len)
    return windows[audio_start].astype(np.float32, copy=False)


def _chunks(n, chunk, progress, desc):
    """Chunk offsets with a tqdm bar (progress None: only on a terminal)."""
    return tqdm(range(0, n, chunk), desc=desc, unit="chunk", disable=None if progress is None else not progress)


def _write_member(zf, name, shape, pieces):
    """Stream float32 ``pieces`` (C-ordered, together of ``shape``) into zip member ``name``.npy."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": tuple(int(d) for d in shape)}
    with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, header)
        for piece in pieces:
            f.write(memoryview(np.ascontiguousarray(piece, dtype=np.float32)).cast("B"))


def write_clips(path, pose, audio, plan, clip_frames=64, chunk=CHUNK_CLIPS, progress=None, **extra):
    """Write the planned clips and ``extra`` small values as an uncompressed npz, atomically.

    The clip arrays are gathered and written ``chunk`` clips at a time; the file is what ``np.savez`` writes
    (stored members ``poses.npy``, ``audio.npy``, ...), so ``np.load`` reads it as usual."""
    starts, first, audio_len = plan["start_frame"], plan["audio_start"], plan["audio_len"]
    n = len(starts)
    small = {"start_frame": starts, "audio_start": first, "clip_frames": int(clip_frames), **extra}
    with atomic_path(path, suffix=".npz") as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        _write_member(zf, "poses", (n, clip_frames, *pose.shape[1:]),
                      (clip_poses(pose, starts[lo:lo + chunk], clip_frames)
                       for lo in _chunks(n, chunk, progress, "clip poses")))
        _write_member(zf, "audio", (n, audio_len),
                      (clip_audio(audio, first[lo:lo + chunk], audio_len)
                       for lo in _chunks(n, chunk, progress, "clip audio")))
        for key, value in small.items():
            with zf.open(f"{key}.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)


def _check_sync(video_path, pose, keep, audio, rate, fps, av_sync):
    """(the audio, shifted back into sync when asked and needed; the sync record for the clips npz)."""
    if av_sync not in AV_SYNC:
        raise ValueError(f"av_sync must be one of {AV_SYNC}, got {av_sync!r}")
    sync = measure_sync(pose, keep, audio, rate, fps)
    if sync is None:
        log.warning("%s: audio sync not measured: fewer than %d kept frames, or a mouth that never moves", video_path,
                    MIN_FRAMES)
        return audio, {"av_lag_frames": 0, "av_r": np.nan, "av_r_zero": np.nan, "av_out_of_sync": False,
                       "av_corrected": False}
    correct = sync.out_of_sync and av_sync == "correct"
    if sync.out_of_sync:
        log.warning("%s: speech and mouth OUT OF SYNC: %s; %s", video_path, sync.describe(),
                    "the audio is shifted back (dataset.av_sync: correct)" if correct else
                    "clips keep the offset (set dataset.av_sync: correct to shift the audio back, or fix the file)")
    else:
        log.info("%s: speech and mouth %s", video_path, sync.describe())
    if correct:
        audio = shift_audio(audio, sync.lag_frames, rate, fps)
    return audio, {"av_lag_frames": sync.lag_frames, "av_r": sync.r, "av_r_zero": sync.r_zero,
                   "av_out_of_sync": sync.out_of_sync, "av_corrected": correct}


def _ranges(starts, step):
    """Start frames as compact runs for the log: '80-135, 300' (runs of ``step``), at most 8 runs."""
    runs = []
    for s in np.asarray(starts).tolist():
        if runs and s == runs[-1][1] + step:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:8])
    return text + (f", ... ({len(runs)} runs)" if len(runs) > 8 else "")


def generate_clips(rescaled_path, outliers_path, video_path, out_path, fps=FPS, clip_frames=CLIP_FRAMES,
                   clip_stride=DATASET.clip_stride, skip_frames=DATASET.skip_frames, audio_rate=AUDIO_RATE,
                   last_window=DATASET.last_window, av_sync=DATASET.av_sync, progress=None):
    """The generate_clips step: rescaled keypoints + outlier mask + the fps-converted video -> clips npz.

    The lag between speech and mouth is measured on the kept frames (sdt.dataset.av_sync) and recorded in the npz
    (``av_lag_frames``, ``av_r``, ``av_r_zero``, ``av_out_of_sync``, ``av_corrected``); an out-of-sync video is
    warned about and, with ``av_sync="correct"``, its audio is shifted by the lag before the clips are cut.

    Returns the counts (n, windows_total, dropped_invalid, dropped_audio, n_frames, audio_samples).  Raises
    InputError naming the file for an unreadable input, mismatched frame counts or fps, or a video whose audio
    cannot be read."""
    arrays = load_pose_file(rescaled_path, ("pose", "fps"))
    pose = arrays["pose"]
    keep = load_keep(outliers_path, len(pose), rescaled_path)
    pose_fps = float(arrays["fps"])
    if abs(pose_fps - fps) > FPS_TOLERANCE * fps:
        raise InputError(rescaled_path, f"keypoints are at {pose_fps:g} fps, clips are cut at {fps:g} fps")
    audio = read_audio(video_path, audio_rate)  # InputError naming the file: unreadable, no or empty audio
    log.info("%s: %d frames (%.2f s at %g fps); audio %d samples (%.2f s at %d Hz)", video_path, len(pose),
             len(pose) / fps, fps, len(audio), len(audio) / audio_rate, audio_rate)
    audio, sync = _check_sync(video_path, pose, keep, audio, audio_rate, fps, av_sync)
    # docs/dataset.md §11 crops or zero-pads a clip's audio to 68266 samples: an audio track that ends less than one
    # frame before the video (usual for AAC) is padded with silence; a window that lacks more is dropped.
    audio = np.concatenate([audio, np.zeros(int(np.ceil(audio_rate / fps)), dtype=audio.dtype)])
    plan = plan_windows(keep, len(audio), fps, audio_rate, clip_frames, clip_stride, skip_frames, last_window)
    n = len(plan["start_frame"])
    write_clips(out_path, pose, audio, plan, clip_frames, progress=progress,
                windows_total=plan["windows_total"], dropped_invalid=plan["dropped_invalid"],
                dropped_audio=plan["dropped_audio"], n_frames=len(pose), audio_samples=len(audio), fps=float(fps),
                audio_rate=int(audio_rate), clip_stride=int(clip_stride),
                skip_frames=int(skip_frames), video=Path(video_path).stem, **sync)
    summary = {"n": n, **{k: int(plan[k]) for k in ("windows_total", "dropped_invalid", "dropped_audio")},
               "n_frames": len(pose), "audio_samples": len(audio)}
    if plan["windows_total"] == 0:
        need = skip_frames + clip_frames + (0 if last_window else 1)
        log.warning("%s: %d frames are too few for one clip (it needs %d: %d skipped + %d%s): 0 clips", video_path,
                    len(pose), need, skip_frames, clip_frames, "" if last_window else " + 1, as the release cuts")
    log.info("%s: %d windows (start %d, every %d frames) -> %d clips; dropped %d with an outlier frame, %d with "
             "audio too short (%d samples needed from the window's start)", video_path, plan["windows_total"],
             skip_frames, clip_stride, n, plan["dropped_invalid"], plan["dropped_audio"], plan["audio_len"])
    if plan["dropped_invalid"]:
        log.info("dropped for an outlier frame, start frames: %s", _ranges(plan["invalid_start"], clip_stride))
    if plan["dropped_audio"]:
        log.info("dropped for short audio, start frames: %s", _ranges(plan["short_start"], clip_stride))
    return summary
