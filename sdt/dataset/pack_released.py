"""Rule pack_released: the authors' released processed data of one speaker (docs/dataset.md §14), read as it is, packed
into the same arrays and clips.csv as :mod:`sdt.dataset.split_dataset` writes for a speaker built from videos.

The release: ``<folder>/processed_137.csv`` with columns dataset, start, end, interval_id, pose_fn, audio_fn,
video_fn, speaker; one npz per clip with ``pose`` [64, 3, 137] (x px, y px, confidence), ``audio`` (16 kHz float,
about 68266 samples) and ``imgs`` (frame paths, not used).

- Splits: ``train`` -> train, ``dev`` and ``val`` -> dev (the release's split script writes ``val``, its loader reads
  ``dev``), ``idle`` -> idle (kept out of training).  Any other label is an :class:`InputError`.
- ``pose_fn`` is found relative to the speaker folder (how the release's loader joins it), as an absolute path, or,
  for a path from the authors' machine, by the part after the folder's own name (``.../oliver/npz/x.npz`` ->
  ``<folder>/npz/x.npz``).
- Poses are cut to ``clip_frames`` and stored as float32; audio is cut or zero-padded at the end to
  ``int(clip_frames * audio_rate / fps)`` samples (the release's crop_pad_audio).
- **A clip that cannot be used** (npz missing, corrupt, a key missing, wrong shape, non-finite values) **is skipped
  and reported**: one log warning per file (the first 20, then a count) and the returned summary's ``skipped``
  list of (path, problem).  One bad file among thousands should not stop a speaker; but a speaker left with no
  train or no dev clip raises :class:`InputError` naming the csv and the first unreadable files.
- clips.csv: the columns of :mod:`sdt.dataset.split_dataset` (start/end converted to seconds: a whole number in the
  release's csv is a frame index, as its clip script writes; a time such as ``0:01:02.5`` or a decimal number is a
  time), plus the release's own values: release_dataset, release_start, release_end, pose_fn, audio_fn, and
  ``release_row``, the clip's position among the release's rows of its label, in the csv's order: for a train clip
  the ``clip_index`` the release's loader gives it, i.e. its row in the template table of an authors' checkpoint.
  Every row of the release is kept, in the csv's order within each split: a skipped clip has ``index`` -1 and its
  problem in ``problem`` (empty for the packed ones), so no other clip loses its release row and the number of
  the release's train rows (what an authors' template table holds) stays known.
"""

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sdt import layout
from sdt.constants import SPLITS
from sdt.dataset.split_dataset import SplitArrays, seconds
from sdt.errors import InputError
from sdt.io import load_npz, write_csv

log = logging.getLogger(__name__)

SPLIT_OF_LABEL = {"train": "train", "idle": "idle", "dev": "dev", "val": "dev"}
REQUIRED_COLUMNS = ("dataset", "pose_fn")
OPTIONAL_COLUMNS = ("start", "end", "interval_id", "audio_fn", "video_fn", "speaker")
REPORT_FIRST = 20  # skipped files logged one by one; the rest as a count
_INT = re.compile(r"^[+-]?\d+$")


def release_time_seconds(value, fps):
    """A start/end value of the release's csv -> seconds (NaN if it is empty or not a time).

    A whole number is a frame index (the release's clip script writes ``frame_idx``); ``H:MM:SS.ffffff`` or
    ``0 days HH:MM:SS`` (pandas timedelta, as in Speech2Gesture's csv) or a decimal number are times."""
    text = str(value).strip()
    if not text or text.lower() == "nan":
        return float("nan")
    if _INT.match(text):
        return float(seconds(int(text), fps))
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return round(pd.to_timedelta(text).total_seconds(), 6)
    except ValueError:
        return float("nan")


def read_release_index(index_csv):
    """processed_137.csv -> DataFrame (all values as str) with a ``split`` column; InputError if unusable."""
    index_csv = Path(index_csv)
    if not index_csv.is_file():
        raise InputError(index_csv, "released index not found (expected <released folder>/processed_137.csv)")
    try:
        table = pd.read_csv(index_csv, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputError(index_csv, f"cannot read the released index ({e})") from e
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(index_csv, f"lacks column(s) {', '.join(missing)} (has {', '.join(table.columns)})")
    for c in OPTIONAL_COLUMNS:
        if c not in table.columns:
            table[c] = ""
    labels = table["dataset"].str.strip()
    unknown = sorted(set(labels) - set(SPLIT_OF_LABEL))
    if unknown:
        raise InputError(index_csv, f"unknown dataset label(s) {unknown}; expected {sorted(SPLIT_OF_LABEL)}")
    table["split"] = labels.map(SPLIT_OF_LABEL)
    table["release_row"] = table.groupby(labels).cumcount()  # the release loader's clip_index within its label
    return table


def resolve_clip_path(folder, pose_fn):
    """Where the clip file ``pose_fn`` of the released index lies (first existing candidate, else the first)."""
    folder = Path(folder)
    p = Path(pose_fn)
    candidates = [p] if p.is_absolute() else [folder / p, folder.parent / p]
    parts = p.parts
    for k in range(len(parts) - 1, -1, -1):  # the part after the last component named like the speaker folder
        if parts[k] == folder.name and k + 1 < len(parts):
            candidates.append(folder.joinpath(*parts[k + 1:]))
            break
    return next((c for c in candidates if c.is_file()), candidates[0])


def load_release_clip(path, clip_frames, audio_len):
    """One released clip npz -> (pose float32 [clip_frames, 3, 137], audio float32 [audio_len]).

    Raises :class:`InputError` naming the file when it cannot be used."""
    arrays = load_npz(path, ("pose", "audio"), what="clip")
    pose, audio = arrays["pose"], arrays["audio"]
    if pose.ndim != 3 or pose.shape[1:] != (3, layout.N_137) or len(pose) < clip_frames:
        raise InputError(path, f"pose must be [>={clip_frames}, 3, 137], got {list(pose.shape)}")
    audio = np.squeeze(audio)
    if audio.ndim != 1:
        raise InputError(path, f"audio must be mono [samples], got {list(np.shape(audio))}")
    pose = np.asarray(pose[:clip_frames], dtype=np.float32)
    audio = np.asarray(audio[:audio_len], dtype=np.float32)
    if len(audio) < audio_len:
        audio = np.pad(audio, (0, audio_len - len(audio)))
    if not (np.isfinite(pose).all() and np.isfinite(audio).all()):
        raise InputError(path, "non-finite values in pose or audio")
    return pose, audio


def _index_rows(table, fps, clip_frames):
    start = table["start"].map(lambda v: release_time_seconds(v, fps)).astype(np.float64)
    end = table["end"].map(lambda v: release_time_seconds(v, fps)).astype(np.float64)
    start_frame = np.round(start * fps).astype("Int64")
    return pd.DataFrame({
        "dataset": table["split"].to_numpy(),
        "start": start.to_numpy(),
        "end": end.to_numpy(),
        "interval_id": table["interval_id"].to_numpy(),
        "video_fn": table["video_fn"].to_numpy(),
        "speaker": table["speaker"].to_numpy(),
        "start_frame": start_frame.to_numpy(),
        "end_frame": (start_frame + clip_frames).to_numpy(),
        "index": table["row_index"].to_numpy(),
        "release_row": table["release_row"].to_numpy(),
        "release_dataset": table["dataset"].to_numpy(),
        "release_start": table["start"].to_numpy(),
        "release_end": table["end"].to_numpy(),
        "pose_fn": table["pose_fn"].to_numpy(),
        "audio_fn": table["audio_fn"].to_numpy(),
        "problem": table["problem"].to_numpy(),
    })


def _report_skipped(index_csv, skipped, used):
    for path, problem in skipped[:REPORT_FIRST]:
        log.warning("skipped %s: %s", path, problem)
    if len(skipped) > REPORT_FIRST:
        log.warning("... and %d more unreadable clips", len(skipped) - REPORT_FIRST)
    empty = [s for s in ("train", "dev") if used[s] == 0]
    if empty:
        first = "; ".join(f"{p}: {m}" for p, m in skipped[:3])
        raise InputError(index_csv, f"no usable {' or '.join(empty)} clip ({len(skipped)} unreadable"
                                    + (f", e.g. {first})" if first else ")"))


def pack_released(index_csv, outputs, index_out, clip_frames=64, audio_rate=16000, fps=15):
    """Pack a released speaker (``index_csv`` = its processed_137.csv) into ``outputs`` (``{split}_poses`` and
    ``{split}_audio`` -> .npy paths) and ``index_out`` (clips.csv).  Returns a summary dict: clips per split and
    ``skipped``, the list of (clip path, problem) of the clips left out."""
    index_csv = Path(index_csv)
    folder = index_csv.parent
    table = read_release_index(index_csv)
    audio_len = int(clip_frames * audio_rate / fps)  # 68266 (docs/dataset.md §11)
    sizes = table["split"].value_counts().reindex(list(SPLITS), fill_value=0).to_dict()
    used, skipped, rows = dict.fromkeys(SPLITS, 0), [], []
    with SplitArrays(outputs, sizes, (clip_frames, 3, layout.N_137), audio_len) as arrays:
        for split in SPLITS:
            part = table[table["split"] == split]
            row_index, problems = np.full(len(part), -1), [""] * len(part)
            for i, pose_fn in enumerate(tqdm(part["pose_fn"], desc=f"pack {split}", unit="clip", disable=None)):
                path = resolve_clip_path(folder, pose_fn)
                try:
                    pose, audio = load_release_clip(path, clip_frames, audio_len)
                except InputError as e:
                    skipped.append((str(path), e.problem))
                    problems[i] = e.problem
                    continue
                row_index[i] = arrays.put(split, pose[None], audio[None])[0]
            used[split] = int((row_index >= 0).sum())
            rows.append(_index_rows(part.assign(row_index=row_index, problem=problems), fps, clip_frames))
        _report_skipped(index_csv, skipped, used)
    write_csv(index_out, pd.concat(rows, ignore_index=True))  # per split in the csv's order (SPLITS order)
    log.info("%s: train %d, idle %d, dev %d clips packed; %d skipped", index_csv, *used.values(), len(skipped))
    return {**used, "skipped": skipped}
