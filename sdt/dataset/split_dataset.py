"""Rule split_dataset (docs/dataset.md §12): a speaker's per-video clip files -> train / idle / dev arrays + clips.csv.

Per video, in time order: the first ``int(n * train_fraction)`` clips are ``train`` (the release's
``int(total * 0.8)``), the next ``idle_clips`` ``idle`` (13 clips 5 frames apart span 65 frames, so no dev frame is
also a train frame), the rest ``dev``.  Outputs (contract):

  {split}_poses.npy  float32 [N, 64, 3, 137]     {split}_audio.npy  float32 [N, 68266]
  clips.csv          one row per clip, train rows first, then idle, then dev; ``index`` is the clip's row in
                     its split's arrays.  Columns: dataset, start, end (seconds, floats with 6 decimals),
                     interval_id (video name), video_fn (video name + .mp4), speaker, start_frame, end_frame
                     (end exclusive, as the release's ``frame_idx + 64``), index, video_clip (row inside the
                     video's clips npz).

The arrays are preallocated memory maps under temporary names (:class:`SplitArrays`), filled from each clip file
streamed CLIP_CHUNK clips at a time (:func:`npz_rows`), so memory holds one chunk (measured: 1200 clips, 450 MB,
in 4.7 s with 106 MB of memory); all six files appear together once everything is written.
"""

import contextlib
import logging
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sdt.constants import SPLITS
from sdt.errors import InputError
from sdt.io import NPZ_ERRORS, atomic_path, load_npz, write_csv

log = logging.getLogger(__name__)

COPY_CHUNK = 256  # clips per copy when an array is shrunk
CLIP_CHUNK = 128  # clips read from a clip file at a time: ~35 MB of audio + 9 MB of poses


def split_counts(n, train_fraction, idle_clips):
    """(train, idle, dev) clip counts of a video with ``n`` clips."""
    n_train = int(n * train_fraction)
    n_idle = min(idle_clips, n - n_train)
    return n_train, n_idle, n - n_train - n_idle


def min_clips_for_dev(train_fraction, idle_clips, limit=100_000):
    """The fewest clips a video needs for at least one of them to reach ``dev`` (None if none up to ``limit``)."""
    return next((n for n in range(1, limit) if split_counts(n, train_fraction, idle_clips)[2] > 0), None)


def seconds(frame, fps):
    """Frame index -> time in seconds, rounded to microseconds (the release writes times to 6 decimals)."""
    return np.round(np.asarray(frame, dtype=np.float64) / float(fps), 6)


def _read_npy_header(f):
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(f)
    return tuple(shape), fortran_order, np.dtype(dtype)


def npz_member_shape(path, key):
    """Shape and dtype of array ``key`` inside an .npz, read from its .npy header only (no data is loaded)."""
    with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as f:
        shape, _, dtype = _read_npy_header(f)
    return shape, dtype


def npz_rows(path, key, chunk=None):
    """Yield array ``key`` of an .npz ``chunk`` (default CLIP_CHUNK) rows at a time, streamed from the archive, so
    memory holds one chunk."""
    chunk = chunk or CLIP_CHUNK
    with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as f:
        shape, fortran_order, dtype = _read_npy_header(f)
        if fortran_order or dtype.hasobject:
            raise InputError(path, f"{key}: expected a C-ordered numeric array")
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        for lo in range(0, shape[0], chunk):
            n = min(chunk, shape[0] - lo)
            buf = f.read(n * row_bytes)
            if len(buf) != n * row_bytes:
                raise InputError(path, f"{key}: truncated after {lo} rows")
            yield np.frombuffer(buf, dtype=dtype).reshape(n, *shape[1:])


class SplitArrays:
    """Context manager: ``{split}_poses.npy`` / ``{split}_audio.npy`` preallocated as float32 memory maps under
    temporary names, filled with :meth:`put`, renamed onto ``outputs`` when the block succeeds (removed if not).

    ``sizes[split]`` is an upper bound: a split filled with fewer clips is shrunk to what was written (pack_released
    skips clips it cannot read).  ``outputs`` maps ``{split}_poses`` / ``{split}_audio`` to paths."""

    def __init__(self, outputs, sizes, clip_shape, audio_len):
        self.outputs, self.sizes = outputs, dict(sizes)
        self.shapes = {"poses": tuple(clip_shape), "audio": (int(audio_len),)}
        self.filled = dict.fromkeys(SPLITS, 0)
        self.arrays, self.tmp = {}, {}

    def __enter__(self):
        self._stack = contextlib.ExitStack().__enter__()
        try:
            for s in SPLITS:
                for kind in ("poses", "audio"):
                    key = f"{s}_{kind}"
                    tmp = self._stack.enter_context(atomic_path(self.outputs[key], suffix=".npy"))
                    self.tmp[key] = tmp
                    self.arrays[key] = np.lib.format.open_memmap(
                        tmp, mode="w+", dtype=np.float32, shape=(self.sizes[s], *self.shapes[kind])
                    )
        except BaseException:
            self.arrays.clear()
            self._stack.__exit__(*sys.exc_info())  # removes the temporary files made so far
            raise
        return self

    def put(self, split, poses, audio):
        """Append clips (poses [n, *clip_shape], audio [n, audio_len]) to ``split``; returns their row indices."""
        start, n = self.filled[split], len(poses)
        if start + n > self.sizes[split]:
            raise RuntimeError(f"more {split} clips than the {self.sizes[split]} allocated")
        self.arrays[f"{split}_poses"][start:start + n] = poses
        self.arrays[f"{split}_audio"][start:start + n] = audio
        self.filled[split] = start + n
        return np.arange(start, start + n)

    def _shrink(self, key, n):
        old = self.arrays.pop(key)
        tmp = self.tmp[key]
        small_tmp = tmp.with_name(tmp.name + ".shrink.npy")
        try:
            new = np.lib.format.open_memmap(small_tmp, mode="w+", dtype=np.float32, shape=(n, *old.shape[1:]))
            for i in range(0, n, COPY_CHUNK):
                j = min(i + COPY_CHUNK, n)
                new[i:j] = old[i:j]
            new.flush()
            del new, old
            os.replace(small_tmp, tmp)
        finally:
            if small_tmp.exists():
                small_tmp.unlink()

    def _finish(self):
        for s in SPLITS:
            for kind in ("poses", "audio"):
                key = f"{s}_{kind}"
                self.arrays[key].flush()
                if self.filled[s] < self.sizes[s]:
                    self._shrink(key, self.filled[s])

    def __exit__(self, exc_type, exc, tb):
        # the temporary files are renamed onto the outputs only by a clean exit of self._stack
        if exc_type is None:
            try:
                self._finish()
            except BaseException:
                self.arrays.clear()
                self._stack.__exit__(*sys.exc_info())
                raise
        self.arrays.clear()
        return self._stack.__exit__(exc_type, exc, tb)


def sort_index(table):
    """clips.csv order: train rows, then idle, then dev, each by its row in the split's arrays."""
    order = table["dataset"].map({s: k for k, s in enumerate(SPLITS)})
    return table.iloc[np.lexsort((table["index"].to_numpy(), order.to_numpy()))].reset_index(drop=True)


def _clip_file_info(path):
    """Check one generate_clips npz from its headers -> dict(n, clip_shape, audio_len, fps, video)."""
    small = load_npz(path, what="clip file", skip=("poses", "audio"), require=("poses", "audio", "start_frame", "fps"))
    fps = float(small["fps"])
    start_frame = np.asarray(small["start_frame"], dtype=np.int64)
    video = str(small["video"]) if "video" in small else Path(path).stem
    try:
        poses_shape, _ = npz_member_shape(path, "poses")
        audio_shape, _ = npz_member_shape(path, "audio")
    except NPZ_ERRORS as e:
        raise InputError(path, f"cannot read clip file ({e})") from e
    n = len(start_frame)
    if len(poses_shape) != 4 or poses_shape[0] != n or poses_shape[2:] != (3, 137):
        raise InputError(path, f"poses must be [{n}, T, 3, 137], got {list(poses_shape)}")
    if len(audio_shape) != 2 or audio_shape[0] != n:
        raise InputError(path, f"audio must be [{n}, samples], got {list(audio_shape)}")
    return {"n": n, "clip_shape": poses_shape[1:], "audio_len": audio_shape[1], "fps": fps, "video": video,
            "start_frame": start_frame}


def _copy_video(arrays, path, counts):
    """Stream one video's clips into the split arrays: its first counts[0] clips to train, and so on."""
    bounds = np.cumsum([0, *counts])  # split k holds the video's clips [bounds[k], bounds[k + 1])
    lo = 0
    try:
        for poses, audio in zip(npz_rows(path, "poses"), npz_rows(path, "audio"), strict=True):
            hi = lo + len(poses)
            for k, s in enumerate(SPLITS):
                a, b = max(lo, bounds[k]), min(hi, bounds[k + 1])
                if a < b:
                    arrays.put(s, poses[a - lo:b - lo], audio[a - lo:b - lo])
            lo = hi
    except InputError:
        raise
    except NPZ_ERRORS as e:
        raise InputError(path, f"cannot read clips ({type(e).__name__}: {e})") from e


def _check_speaker_counts(clips_dir, infos, totals, train_fraction, idle_clips):
    n_all = sum(i["n"] for i in infos)
    if n_all == 0:
        raise InputError(clips_dir, f"videos too short: 0 clips from {len(infos)} videos (a clip needs enough "
                                    "frames with a complete person after the skipped start; see the "
                                    "generate_clips logs)")
    if totals["train"] == 0:
        raise InputError(clips_dir, f"0 train clips from {n_all} clips: every video has too few clips")
    if totals["dev"] == 0:
        need = min_clips_for_dev(train_fraction, idle_clips)
        most = max(i["n"] for i in infos)
        fits = most - int(most * train_fraction) - 1  # the most idle clips that leave the longest video a dev clip
        hint = (f"; for a first look, dataset.idle_clips: {fits} gives it dev clips (fewer than 13 idle clips let dev "
                "clips share frames with train clips: docs/dataset.md §12), or add longer videos" if fits >= 0 else
                "; add longer videos")
        raise InputError(clips_dir, f"videos too short: 0 dev clips (the longest video has {most} clips; with "
                                    f"train_fraction {train_fraction} and {idle_clips} idle clips a video needs at "
                                    f"least {need} clips for one to reach dev){hint}")


def whole_video_counts(n, split):
    """(train, idle, dev) counts of a video whose clips all go to ``split`` (an interval table's dataset column:
    separate intervals share no frames, so no idle clips)."""
    return tuple(n if s == split else 0 for s in SPLITS)


def split_dataset(clip_files, outputs, index_csv, train_fraction=0.8, idle_clips=13, speaker=None, splits=None):
    """Split every video's clips (``clip_files``: generate_clips npz paths, in video order) into train / idle / dev.

    ``outputs`` maps ``{split}_poses`` and ``{split}_audio`` to .npy paths; ``index_csv`` is clips.csv; ``speaker``
    (default: the folder above ``clips/``) fills the csv's speaker column.  A video without clips is skipped with a
    warning; a speaker left with no train or no dev clip at all raises :class:`InputError` naming the clips folder.
    ``splits`` ({video: train | dev}, an interval table's dataset column) puts all of a named video's clips in its
    split instead.  Returns the number of clips per split."""
    clip_files = [Path(p) for p in clip_files]
    if not clip_files:
        raise InputError("clip files", "no videos to split")
    clips_dir = clip_files[0].parent
    speaker = speaker if speaker is not None else clips_dir.parent.name
    infos = [_clip_file_info(p) for p in clip_files]
    shapes = {(i["clip_shape"], i["audio_len"]) for i in infos if i["n"]}
    if len(shapes) > 1:
        raise InputError(clips_dir, f"clip files disagree on clip shape / audio length: {sorted(shapes)}")
    totals = dict.fromkeys(SPLITS, 0)
    for info in infos:
        given = (splits or {}).get(info["video"])
        info["counts"] = (whole_video_counts(info["n"], given) if given else
                          split_counts(info["n"], train_fraction, idle_clips))
        for s, c in zip(SPLITS, info["counts"], strict=True):
            totals[s] += c
    _check_speaker_counts(clips_dir, infos, totals, train_fraction, idle_clips)
    clip_shape, audio_len = shapes.pop()

    rows = []
    with SplitArrays(outputs, totals, clip_shape, audio_len) as arrays:
        for path, info in tqdm(list(zip(clip_files, infos, strict=True)), desc="split", unit="video", disable=None):
            if info["n"] == 0:
                log.warning("%s: no clips (video too short or no complete person): skipped", path)
                continue
            first = dict(arrays.filled)  # the video's first row in each split
            _copy_video(arrays, path, info["counts"])
            lo = 0
            for s, c in zip(SPLITS, info["counts"], strict=True):
                start = info["start_frame"][lo:lo + c]
                rows.append(pd.DataFrame({
                    "dataset": s,
                    "start": seconds(start, info["fps"]),
                    "end": seconds(start + clip_shape[0], info["fps"]),
                    "interval_id": info["video"],
                    "video_fn": f"{info['video']}.mp4",
                    "speaker": speaker,
                    "start_frame": start,
                    "end_frame": start + clip_shape[0],
                    "index": np.arange(first[s], first[s] + c),
                    "video_clip": np.arange(lo, lo + c),
                }))
                lo += c
            log.info("%s: %d clips -> train %d, idle %d, dev %d", info["video"], info["n"], *info["counts"])
    write_csv(index_csv, sort_index(pd.concat(rows, ignore_index=True)))
    log.info("speaker %s: train %d, idle %d, dev %d clips", speaker, *totals.values())
    return totals
