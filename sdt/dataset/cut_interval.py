"""Rule cut_interval: one interval of a long source video cut into its own file (docs/dataset.md §6), and the
interval tables that name them (Speech2Gesture's ``intervals_df.csv``).

A table has one row per interval: ``video_fn`` (the source file, with or without its extension), ``start_time``
and ``end_time`` (``HH:MM:SS.ffffff``, ``MM:SS.f`` or plain seconds), optionally ``interval_id`` (the interval's
``{video}``, sanitised like a file name's; default ``<video stem>_<start>-<end>`` in seconds, which stays the same
when rows are added or moved), ``speaker`` (rows of other speakers are
ignored) and ``dataset`` (``train``, ``dev`` or ``test``: the split of the whole interval, Speech2Gesture's
``val`` read as ``dev``).  Errors name the table and its row (the csv's line number).

The cut re-encodes (x264 and AAC, one thread, so the same input gives the same bytes): ffmpeg seeks after opening
the input (``-ss``/``-to`` as output options), so both streams start at exactly ``start_time`` whatever the
source's keyframes, and a pre-cut file made the same way is the same clip.
"""

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sdt.errors import InputError
from sdt.io import atomic_path
from sdt.media import probe, run_ffmpeg

log = logging.getLogger(__name__)

REQUIRED = ("video_fn", "start_time", "end_time")
DATASETS = {"train": "train", "dev": "dev", "val": "dev", "test": "test"}  # the table's value -> our split
X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p")  # change_fps' settings
END_TOLERANCE_S = 0.05  # an interval may end this far past the source's end (rounded times in a table)
TIME = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:\.\d*)?)$")  # [[HH:]MM:]SS[.ffffff]


@dataclass(frozen=True)
class Interval:
    id: str  # the {video} wildcard value
    video_fn: str  # as the table names the source file
    start: float  # seconds
    end: float
    dataset: str | None  # train / dev / test, None without a dataset column
    row: str  # "<table> line <n>", for errors


def parse_time(text):
    """Seconds of ``HH:MM:SS.ffffff``, ``MM:SS``, ``SS.fff`` or a number; ValueError otherwise."""
    m = TIME.match(str(text).strip())
    if not m:
        raise ValueError(f"not a time (HH:MM:SS.ffffff or seconds): {text!r}")
    hours, minutes, secs = (float(g) if g else 0.0 for g in m.groups())
    if m.group(1) is not None or m.group(2) is not None:
        if secs >= 60 or (m.group(1) is not None and minutes >= 60):
            raise ValueError(f"not a time (minutes and seconds below 60): {text!r}")
    return hours * 3600 + minutes * 60 + secs


def default_id(stem, start, end):
    """An interval's id without an interval_id: its video and times (``show_61.5-70``), independent of its row."""
    def short(x):
        return f"{x:.3f}".rstrip("0").rstrip(".")

    return f"{stem}_{short(start)}-{short(end)}"


def table_rows(table, speaker=None, required=REQUIRED, what="interval table"):
    """[(where, row)] of a csv table (every value a string), ``where`` = "<table> line <n>"; rows whose
    ``speaker`` column names another speaker are skipped."""
    table = Path(table)
    try:
        frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise InputError(table, f"cannot read the {what} ({e})") from e
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(table, f"{what} lacks the column(s) {missing} (it has {list(frame.columns)})")
    if speaker is not None and "speaker" in frame.columns:
        others = sorted(set(frame["speaker"]))
        frame = frame[frame["speaker"] == speaker]
        if frame.empty:
            raise InputError(table, f"no row of speaker {speaker!r} (its speaker column names {others})")
    if frame.empty:
        raise InputError(table, f"the {what} has no rows")
    return [(f"{table} line {i + 2}", dict(row)) for i, row in frame.iterrows()]  # line 1 is the header


def interval_of(row, where, video, seen, sanitise=str):
    """The :class:`Interval` of one table row cutting ``video`` (its name); ``seen`` ({id: where}) catches a
    repeated id."""
    try:
        start, end = parse_time(row["start_time"]), parse_time(row["end_time"])
    except (KeyError, ValueError) as e:
        raise InputError(where, f"start_time / end_time: {e}") from None
    if not end > start:
        raise InputError(where, f"end_time {row['end_time']} is not after start_time {row['start_time']}")
    ident = sanitise(row.get("interval_id") or default_id(Path(video).stem, start, end))
    if ident in seen:
        raise InputError(where, f"interval id {ident!r} is already used by {seen[ident]}")
    seen[ident] = where
    dataset = None
    if "dataset" in row:
        dataset = DATASETS.get(row["dataset"].strip().lower())
        if dataset is None:
            raise InputError(where, f"dataset {row['dataset']!r} is not one of {sorted(DATASETS)}")
    return Interval(ident, video, start, end, dataset, where)


def read_intervals(table, speaker=None, sanitise=str):
    """The intervals of ``table`` (a csv path) as :class:`Interval` s, in table order; rows whose ``speaker``
    column names another speaker are skipped.  ``sanitise`` turns an id into a {video} value."""
    out, seen = [], {}
    for where, row in table_rows(table, speaker):
        if not Path(row["video_fn"]).stem:
            raise InputError(where, "empty video_fn")
        out.append(interval_of(row, where, row["video_fn"], seen, sanitise))
    return out


def cut_interval(src, dst, start, end, row="interval"):
    """Cut [start, end) seconds of ``src`` into ``dst`` (H.264 + AAC, video and audio cut at the same times).
    An interval that does not fit the source is an InputError naming ``row`` (its table and line)."""
    info = probe(src)
    if start >= info["duration"] or end > info["duration"] + END_TOLERANCE_S:
        raise InputError(row, f"interval {start:.3f}-{end:.3f} s does not fit {src} ({info['duration']:.3f} s long)")
    end = min(end, info["duration"])
    with atomic_path(dst, suffix=".mp4") as tmp:
        run_ffmpeg(["-i", src, "-ss", f"{start:.6f}", "-to", f"{end:.6f}", "-map", f"0:{info['video_stream']}",
                    "-map", "0:a:0", *X264, "-c:a", "aac", "-b:a", "192k", "-threads", 1, "-map_metadata", "-1",
                    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                    "-movflags", "+faststart", tmp], src, f"cutting {row}")
        out = probe(tmp)
    want = math.floor((end - start) * info["fps"] + 0.5)
    log.info("%s: %.3f-%.3f s of %s -> %s: %d frames (%d expected), %.3f s", row, start, end, src, dst,
             out["n_frames"], want, out["duration"])
    return out
