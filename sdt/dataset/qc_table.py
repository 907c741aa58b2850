"""Rule qc_table: one row per video of what each dataset stage kept and dropped, and a final TOTAL row.

Columns (counts):
  frames_in                 frames of the 15 fps video (keypoints npz)
  found_body/face/lhand/rhand  frames where the detector found that part
  frames_complete_person    frames with body, face and both hands
  frames_redetected         of those, frames whose keypoints come from detect_keypoints' static second pass
  outliers_<reason>         frames dropped by remove_outliers, per reason (no_person, undetected_point, cut)
  frames_kept               frames left for clips
  windows_total             64-frame windows after the skipped start (generate_clips)
  clips                     clips made
  dropped_<reason>          windows dropped by generate_clips, per reason it records (dropped_invalid: a window
                            holding a dropped frame, ...)
  cuts                      cuts found by remove_outliers (a hard cut or a switch of person), also those whose
                            frame is dropped for another reason first (outliers_cut counts the frames dropped only
                            for a cut); empty for outliers written without the cut check
  windows_cut               of the dropped_invalid windows, those across a cut
  av_lag_frames             the lag of the speech behind the mouth, frames (sdt.dataset.av_sync; > 0: audio late)
  av_out_of_sync            1 when that lag is an offset viewers notice (the TOTAL row: how many videos)
  av_corrected              1 when generate_clips shifted the audio back (dataset.av_sync: correct)
  train, idle, dev          clips per split (clips.csv)
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sdt.constants import SPLITS
from sdt.errors import InputError
from sdt.io import load_npz, write_csv

log = logging.getLogger(__name__)

PARTS = ("body", "face", "lhand", "rhand")
SYNC_COLUMNS = ("av_lag_frames", "av_out_of_sync", "av_corrected")
NOT_SUMMED = ("av_lag_frames",)  # not a count: the TOTAL row leaves it empty


def _load(path, what):
    return load_npz(path, what=what, skip=("pose", "poses", "audio"))


def _by_video(paths, what):
    out = {Path(p).stem: Path(p) for p in paths}
    if len(out) != len(paths):
        raise InputError(Path(paths[0]).parent, f"several {what} files share a video name")
    return out


def _windows_holding(frames, cl):
    """How many of the clips file's windows (windows_total, from skip_frames every clip_stride) hold a True frame."""
    if not all(k in cl for k in ("windows_total", "skip_frames", "clip_stride", "clip_frames")):
        return np.nan
    starts = int(cl["skip_frames"]) + int(cl["clip_stride"]) * np.arange(int(cl["windows_total"]), dtype=np.int64)
    inside = np.concatenate([[0], np.cumsum(frames, dtype=np.int64)])
    ends = np.minimum(starts + int(cl["clip_frames"]), len(frames))
    return int((inside[ends] - inside[starts] > 0).sum())


def video_row(keypoints, outliers, clips):
    """The QC counts of one video from its keypoints, outliers and clips npz (without the split counts)."""
    kp, out, cl = _load(keypoints, "keypoints"), _load(outliers, "outliers"), _load(clips, "clips")
    found, valid = np.asarray(kp["found"], dtype=bool), np.asarray(kp["valid"], dtype=bool)
    keep, reason = np.asarray(out["keep"], dtype=bool), np.asarray(out["reason"])
    if len(keep) != len(valid):
        raise InputError(outliers, f"{len(keep)} frames, but the keypoints have {len(valid)}")
    row = {"frames_in": len(valid)}
    row.update({f"found_{p}": int(found[:, k].sum()) for k, p in enumerate(PARTS)})
    row["frames_complete_person"] = int(valid.sum())
    row["frames_redetected"] = int(np.asarray(kp.get("redetected", False)).sum())  # found again by the static pass
    names = [str(n) for n in np.atleast_1d(out["reasons"])]
    row.update({f"outliers_{name}": int((reason == code).sum()) for code, name in enumerate(names) if code > 0})
    row["frames_kept"] = int(keep.sum())
    row["windows_total"] = int(cl["windows_total"]) if "windows_total" in cl else np.nan
    row["clips"] = len(np.atleast_1d(cl["start_frame"])) if "start_frame" in cl else np.nan
    row.update({k: int(cl[k]) for k in sorted(cl) if k.startswith("dropped_")})
    if "cut" in out:  # every cut found, also where the frame was dropped for another reason as well
        row["cuts"] = int(np.asarray(out["cut"], dtype=bool).sum())
        row["windows_cut"] = _windows_holding(np.asarray(out["cut"], dtype=bool), cl)
    else:
        row["cuts"] = row["windows_cut"] = np.nan
    row.update({k: int(cl[k]) if k in cl else np.nan for k in SYNC_COLUMNS})
    if not np.isfinite(float(cl.get("av_r", np.nan))):  # not measured (too few kept frames, older clips): empty
        row["av_lag_frames"] = np.nan
    return row


def qc_table(keypoints, outliers, clips, index_csv, table_out):
    """Write the per-video QC table of a speaker (lists of npz paths, one per video, any order) -> DataFrame."""
    kp, out, cl = _by_video(keypoints, "keypoints"), _by_video(outliers, "outliers"), _by_video(clips, "clips")
    if not (set(kp) == set(out) == set(cl)):
        raise InputError(Path(clips[0]).parent, "keypoints, outliers and clips cover different videos: "
                                                f"{sorted(set(kp) ^ set(out) | set(kp) ^ set(cl))}")
    try:
        index = pd.read_csv(index_csv, dtype={"interval_id": str})
    except (OSError, ValueError) as e:
        raise InputError(index_csv, f"cannot read clips index ({e})") from e
    per_split = index.groupby(["interval_id", "dataset"]).size().unstack(fill_value=0)
    rows = []
    for video in kp:  # in the order given (the workflow's video order)
        row = {"video": video, **video_row(kp[video], out[video], cl[video])}
        row.update({s: int(per_split.at[video, s]) if video in per_split.index and s in per_split else 0
                    for s in SPLITS})
        rows.append(row)
    table = pd.DataFrame(rows)
    first = [c for c in table.columns if c not in SPLITS]
    table = table[first + list(SPLITS)]
    counts = table.columns.drop("video")
    summed = counts.drop(list(NOT_SUMMED))
    table[summed] = table[summed].fillna(0).astype(np.int64)
    total = {"video": "TOTAL", **table[summed].sum().to_dict()}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table[list(NOT_SUMMED)] = table[list(NOT_SUMMED)].astype("Int64")  # whole numbers; empty: not measured, TOTAL
    write_csv(table_out, table)
    t = total
    late = table[(table["av_out_of_sync"] == 1) & (table["video"] != "TOTAL")]["video"].tolist()
    if late:
        log.warning("speech and mouth out of sync in %d video(s): %s (column av_lag_frames)", len(late), late)
    log.info("%d videos: %d frames, %d complete, %d kept, %d clips (train %d, idle %d, dev %d)", len(rows),
             t["frames_in"], t["frames_complete_person"], t["frames_kept"], t["clips"], t["train"], t["idle"],
             t["dev"])
    return table
