"""The paper's table (Qian et al. 2021, Table 1 style) from the evaluation JSONs of sdt.evaluate.evaluate.

One row per speaker and method, in the order of the given files: the mean over evaluation seeds of every
metric, n_clips, n_seeds and ``stats``, the speaker statistics the row used (``release``: the release's published
numbers; ``computed``: from the speaker's train clips; the Markdown says it per speaker); when some row has
several seeds, a ``<metric>_std`` column per metric (sample std,
ddof 1; empty for a row evaluated once) and "mean ± std" in the Markdown.  A metric a method does not have
(ground_truth's diversity) is empty in the CSV and "–" in the Markdown.
"""

import json
import math
from pathlib import Path

import pandas as pd

from sdt.errors import InputError
from sdt.evaluate.metrics import METRICS, aggregate
from sdt.io import write_csv, write_text
from sdt.methods import LABELS

HEADERS = {"L2": "L2 ↓", "lip_sync_error": "lip-sync error ↓", "FTD": "FTD ↓", "FTD_mu_logvar": "FTD [mu, logvar] ↓",
           "diversity": "diversity", "PCK": "PCK ↑"}
DECIMALS = {"L2": 2, "lip_sync_error": 4, "FTD": 3, "FTD_mu_logvar": 3, "diversity": 2, "PCK": 4}


def read_evaluation(path):
    """One evaluation JSON, checked for what the table needs."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the evaluation ({e})") from e
    missing = [k for k in ("speaker", "method", "n_clips", "per_seed", "settings") if k not in result]
    if missing or not result.get("per_seed"):
        raise InputError(path, f"not an evaluation result: it lacks {', '.join(missing) or 'per_seed entries'}")
    bad = [m for m in METRICS for r in result["per_seed"] if m not in r]
    if bad:
        raise InputError(path, f"a per-seed entry lacks {bad[0]}")
    return result


def table_row(result):
    """speaker, method, metric means, n_clips, n_seeds and (as ``<metric>_std``) the stds of one evaluation."""
    mean, std = aggregate(result["per_seed"])
    row = {"speaker": result["speaker"], "method": result["method"], **mean, "n_clips": result["n_clips"],
           "n_seeds": len(result["per_seed"]), "stats": stats_source(result)}
    return row, {f"{m}_std": std[m] for m in METRICS}


def paper_table(paths):
    """DataFrame of the evaluations at ``paths``; std columns only when some row has several seeds."""
    results = [read_evaluation(p) for p in paths]
    rows = [table_row(r) for r in results]
    multi = any(row["n_seeds"] > 1 for row, _ in rows)
    frame = pd.DataFrame([{**row, **(std if multi else {})} for row, std in rows])
    dupes = frame[frame.duplicated(["speaker", "method"])]
    if len(dupes):
        raise ValueError(f"two evaluations of {dupes.iloc[0]['speaker']} / {dupes.iloc[0]['method']}")
    return frame, results


def stats_source(result):
    """Which speaker statistics an evaluation used: release | computed (older results: unknown)."""
    stats = result.get("stats")
    return stats.get("source", "unknown") if isinstance(stats, dict) else "unknown"


def _stats_note(frame):
    """One sentence per table on the statistics each speaker's rows used."""
    per_speaker = frame.groupby("speaker", sort=False)["stats"].agg(lambda v: "/".join(sorted(set(v))))
    words = {"release": "the release's published statistics", "computed": "statistics computed from its train clips"}
    return "  Statistics: " + "; ".join(f"{s}: {words.get(v, v)}" for s, v in per_speaker.items()) + "."


def _cell(value, std, decimals):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{decimals}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.{decimals}f}"
    return text


def _settings_note(results):
    """One line on how the numbers were made (template choice, seeds, diversity samples, PCK threshold)."""

    def values(key):
        return sorted({json.dumps(r["settings"][key]) for r in results if r["method"] not in ("ground_truth",
                                                                                             "mean_pose")})

    seeds = sorted({s for r in results for s in r.get("seeds", [])})
    parts = [f"Template at test time: {', '.join(values('template')) or '–'}",
             f"seeds: {', '.join(map(str, seeds)) or '–'}",
             f"diversity over {', '.join(values('diversity_samples')) or '–'} samples per clip",
             f"PCK threshold: {', '.join(sorted({str(r['settings']['pck_threshold']) for r in results}))} x the "
             "larger side of the true pose's bounding box"]
    return "; ".join(parts).replace('"', "") + "." + _ftd_note(results)


FTD_INPUT_NOTES = {
    "release": "the release's encoder input (transform_normalized_parted2global of the normalised global poses, as "
               "the paper's Speech2Gesture FTD); FTD on the poses made parted is FTD_parted in the evaluation JSON",
    "parted": "the poses made parted, as for every other model; FTD on the release's encoder input (the paper's "
              "path) is FTD_release in the evaluation JSON",
}


def _ftd_note(results):
    """Which pose-encoder input the FTD column used for global-pose models (issue 14), when the table has one."""
    used = sorted({r["ftd_input"] for r in results if r.get("representation") == "global"})
    if not used:
        return ""
    return "  FTD of global-pose models (" + ", ".join(
        sorted({LABELS.get(r["method"], r["method"]) for r in results if r.get("representation") == "global"})
    ) + "): " + "; ".join(FTD_INPUT_NOTES[u] for u in used) + "."


def markdown(frame, results):
    """The table as Markdown, with a short note on units and settings."""
    cols = ["speaker", "method", *(HEADERS[m] for m in METRICS), "clips"]
    note = ("Final results: neck-relative px on Oliver's scale (SDT_SPEC 1.3).  L2, lip-sync error and FTD: lower is "
            "better; PCK: higher is better; diversity (mean pairwise L2, px, between predictions for the same audio "
            "under different templates): higher = more varied.  " + _settings_note(results) + _stats_note(frame))
    if "L2_std" in frame:
        note += ("  Mean ± sample std over seeds; methods without templates and the reference rows are "
                 "deterministic and evaluated once.")
    lines = ["# Speech Drives Templates: evaluation on the dev split", "", note, "",
             "| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(cols) - 2)) + "|"]
    for row in frame.to_dict("records"):
        cells = [str(row["speaker"]), LABELS.get(row["method"], row["method"])]
        cells += [_cell(row[m], row.get(f"{m}_std"), DECIMALS[m]) for m in METRICS]
        cells.append(str(row["n_clips"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_paper_tables(paths, csv_out, md_out):
    """Read the evaluation JSONs at ``paths``; write the CSV and the Markdown table.  Returns the DataFrame."""
    frame, results = paper_table(paths)
    write_csv(csv_out, frame)
    write_text(md_out, markdown(frame, results))
    return frame
