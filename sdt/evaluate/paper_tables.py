"""The paper's Tables 1-3 beside its published numbers, and a table of every evaluation (rule paper_tables).

Inputs: the evaluation JSONs of sdt.evaluate.evaluate and the published numbers (config/published/paper_results.csv,
whose rows give each table's layout: its rows in order, the paper's speakers and metrics).

Tables 1-3, in the paper's layout (Table 2: a row per method, a column group per speaker; Tables 1 and 3: a row
per variant): every cell holds this workflow's mean ± sample std over seeds (ddof 1; no std for a method evaluated
once), the paper's value and the difference ours - paper.  A speaker the workflow evaluated but the paper did not
(e.g. the sample speaker) gets a column group of its own, with the workflow's numbers only; a cell the config did
not run is marked "not run", never dropped.  Table 3 also shows the two cells of the norm x hierarchy grid that the
paper did not run (bn_parted, in_parted) when they were evaluated.

Every evaluation: one row per speaker and method (reference rows included) with all metrics, n_clips, n_seeds and
``stats``, the speaker statistics the row used (``release``: the release's published numbers; ``computed``: from
the speaker's train clips; the Markdown says it per speaker); when some row has several seeds, a ``<metric>_std``
column per metric.  A metric a method does not have
(ground_truth's diversity) is empty in the CSV and "–" in the Markdown.
"""

import html
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sdt.errors import InputError
from sdt.evaluate.metrics import METRIC, METRICS, PAPER_METRICS, aggregate, metrics_note
from sdt.io import write_csv, write_text
from sdt.methods import LABELS, REFERENCES

TITLES = {1: "Table 1: templates", 2: "Table 2: methods", 3: "Table 3: normalisation and hierarchy (no template)"}
EXTRA_ROWS = {3: (("bn_parted", "BN; hierarchical (not in the paper)"),
                  ("in_parted", "IN; hierarchical (not in the paper)"))}
LONG_COLUMNS = ["table", "row", "method", "variant", "speaker", "metric", "status", "value", "std", "n_seeds",
                "paper", "difference", "parted_input"]


def read_evaluation(path):
    """One evaluation JSON, checked for what the tables need."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the evaluation ({e})") from e
    missing = [k for k in ("speaker", "method", "n_clips", "per_seed", "settings") if k not in result]
    if missing or not result.get("per_seed"):
        raise InputError(path, f"not an evaluation result: it lacks {', '.join(missing) or 'per_seed entries'}")
    bad = [m for m in METRICS for r in result["per_seed"] if m not in r]
    if result.get("representation") == "global":  # the table's one FTD space (ONE_SPACE) and the release's input
        bad += [m for m in (*ONE_SPACE.values(), RELEASE_INPUT[0]) for r in result["per_seed"] if m not in r]
    if bad:
        raise InputError(path, f"a per-seed entry lacks {bad[0]}")
    return result


def read_published(path):
    """The published numbers: one row per (table, row, speaker), checked."""
    try:
        frame = pd.read_csv(path, dtype={"variant": str}, keep_default_na=False, na_values={m: [""] for m in
                                                                                            PAPER_METRICS})
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the published numbers ({e})") from e
    missing = {"table", "row", "speaker", "method", "variant", *PAPER_METRICS} - set(frame.columns)
    if missing:
        raise InputError(path, f"lacks the columns {', '.join(sorted(missing))}")
    if frame.duplicated(["table", "speaker", "method"]).any():
        raise InputError(path, "a method appears twice for one speaker in one table")
    return frame


# The table of every evaluation compares all rows in one FTD space: FTD on the poses made parted (for a parted model
# the one FTD there is; for a global-pose model FTD_parted), and beside it, for global-pose models only, FTD on the
# release's encoder input (as the paper's Speech2Gesture row; docs/evaluation.md §3).  Tables 1-3 keep the
# configured input (evaluate.ftd_global_input), to compare with the paper, each such cell followed by the mean over
# seeds of the parted input's FTD.
ONE_SPACE = {"FTD": "FTD_parted", "FTD_mu_logvar": "FTD_mu_logvar_parted"}
RELEASE_INPUT = ("FTD_release", "FTD, release input ↓", 3)  # (key, header, decimals)


def table_row(result):
    """speaker, method, metric means, n_clips, n_seeds and (as ``<metric>_std``) the stds of one evaluation; FTD
    and FTD_mu_logvar on the parted input for every row (ONE_SPACE), FTD_release for global-pose models."""
    per_seed = result["per_seed"]
    glob = result.get("representation") == "global"
    one_space = [{**r, **{m: r[k] for m, k in ONE_SPACE.items() if glob and k in r}} for r in per_seed]
    mean, std = aggregate(one_space)
    release, release_std = aggregate(per_seed, [RELEASE_INPUT[0]]) if glob else ({RELEASE_INPUT[0]: None}, {})
    row = {"speaker": result["speaker"], "method": result["method"], **mean, **release, "n_clips": result["n_clips"],
           "n_seeds": len(per_seed), "stats": stats_source(result)}
    return row, {**{f"{m}_std": std[m] for m in METRICS}, f"{RELEASE_INPUT[0]}_std": release_std.get(RELEASE_INPUT[0])}


def evaluation_table(results):
    """DataFrame of every evaluation, in the order given; std columns only when some row has several seeds."""
    rows = [table_row(r) for r in results]
    multi = any(row["n_seeds"] > 1 for row, _ in rows)
    frame = pd.DataFrame([{**row, **(std if multi else {})} for row, std in rows])
    dupes = frame[frame.duplicated(["speaker", "method"])]
    if len(dupes):
        raise ValueError(f"two evaluations of {dupes.iloc[0]['speaker']} / {dupes.iloc[0]['method']}")
    return frame


def _layout(published, table, evaluated):
    """(rows [(row, method, variant)], speakers, metrics) of one table: the published rows in order (+ the extra
    rows that were evaluated), the paper's speakers then the other evaluated ones, the paper's metrics."""
    part = published[published["table"] == table].sort_values("row", kind="stable")
    rows = list(dict.fromkeys(zip(part["row"], part["method"], part["variant"], strict=True)))
    done = {m for _, m in evaluated}
    rows += [(len(rows) + i + 1, m, v) for i, (m, v) in enumerate(EXTRA_ROWS.get(table, ())) if m in done]
    speakers = list(dict.fromkeys(part["speaker"]))
    speakers += [s for s in dict.fromkeys(s for s, _ in evaluated) if s not in speakers]
    metrics = [m for m in PAPER_METRICS if part[m].notna().any()]
    return rows, speakers, metrics


def paper_cells(published, results):
    """Tables 1-3 cell by cell (long: one row per table, row, speaker and metric; :data:`LONG_COLUMNS`)."""
    ours = {(r["speaker"], r["method"]): aggregate(r["per_seed"]) + (len(r["per_seed"]),) for r in results}
    # a global-pose model's FTD on the release's input is another space: its cells also carry FTD on the parted input,
    # the space of every other row (ONE_SPACE)
    parted = {(r["speaker"], r["method"]): aggregate(r["per_seed"], list(ONE_SPACE.values()))[0] for r in results
              if r.get("representation") == "global" and r.get("ftd_input") != "parted"}
    paper = {(t, s, m): row for t, s, m, row in zip(published["table"], published["speaker"], published["method"],
                                                   published.to_dict("records"), strict=True)}
    records = []
    for table in sorted(TITLES):
        rows, speakers, metrics = _layout(published, table, list(ours))
        for (row, method, variant), speaker, metric in itertools.product(rows, speakers, metrics):
            mean, std, n_seeds = ours.get((speaker, method), ({}, {}, 0))
            value, ref = mean.get(metric), paper.get((table, speaker, method), {}).get(metric, math.nan)
            records.append({
                "table": table, "row": row, "method": method, "variant": variant, "speaker": speaker,
                "metric": metric, "status": "run" if n_seeds else "not run", "value": value, "std": std.get(metric),
                "n_seeds": n_seeds, "paper": ref,
                "difference": value - ref if value is not None and not math.isnan(ref) else None,
                "parted_input": parted.get((speaker, method), {}).get(ONE_SPACE.get(metric)),
            })
    return pd.DataFrame.from_records(records, columns=LONG_COLUMNS)


def _number(x):
    return x is not None and not (isinstance(x, float) and math.isnan(x))


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
    """'mean ± std', 'mean' or '–'."""
    if not _number(value):
        return "–"
    return f"{value:.{decimals}f}" + (f" ± {std:.{decimals}f}" if _number(std) else "")


def _paper_cell(cell):
    """One cell of Tables 1-3: ours (paper p; Δ d), 'not run (paper p)', ..."""
    dec = METRIC[cell["metric"]].paper_decimals + 1  # ours with one digit more than the paper prints
    paper = f"{cell['paper']:.{dec - 1}f}" if _number(cell["paper"]) else None
    if cell["status"] == "not run":
        return f"not run (paper {paper})" if paper else "not run"
    text = _cell(cell["value"], cell["std"], dec)
    if paper:
        diff = cell["difference"]
        text += f" (paper {paper}; Δ {diff:+.{dec}f})" if _number(diff) else f" (paper {paper})"
    if _number(cell.get("parted_input")):
        text += f"; parted input {cell['parted_input']:.{dec}f}"
    return text


def paper_grids(cells, labels=None):
    """{table: DataFrame of display strings in the paper's layout}: a row per method, columns 'speaker metric'."""
    labels = {**LABELS, **(labels or {})}
    grids = {}
    for table, part in cells.groupby("table", sort=True):
        part = part.assign(text=[_paper_cell(c) for c in part.to_dict("records")],
                           column=part["speaker"] + " " + part["metric"].map(lambda m: METRIC[m].header))
        grid = part.pivot_table(index=["row", "method", "variant"], columns="column", values="text", aggfunc="first",
                                sort=False)
        grid = grid[list(dict.fromkeys(part["column"]))].reset_index()
        label = grid["method"].map(lambda m: labels.get(m, m))
        first = {"method": label} if table == 2 else {"variant": grid["variant"].where(grid["variant"] != "", label)}
        grids[table] = pd.concat([pd.DataFrame({**first, "name": grid["method"]}),
                                  grid.drop(columns=["row", "method", "variant"])], axis=1)
    return grids


def _markdown_table(frame, align_right_from=2):
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join(["---"] * align_right_from + ["---:"] * (len(cols) - align_right_from)) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return lines


def _settings_note(results, ftd_input=True):
    """One line on how the numbers were made (template choice, seeds, diversity samples, PCK threshold; with
    ``ftd_input`` the FTD input of global-pose models)."""

    def values(key):
        return sorted({json.dumps(r["settings"][key]) for r in results if r["method"] not in REFERENCES})

    seeds = sorted({s for r in results for s in r.get("seeds", [])})
    parts = [f"Template at test time: {', '.join(values('template')) or '–'}",
             f"seeds: {', '.join(map(str, seeds)) or '–'}",
             f"diversity over {', '.join(values('diversity_samples')) or '–'} samples per clip",
             f"PCK threshold: {', '.join(sorted({str(r['settings']['pck_threshold']) for r in results}))} x the "
             "larger side of the true pose's bounding box"]
    return "; ".join(parts).replace('"', "") + "." + (_ftd_note(results) if ftd_input else "")


FTD_INPUT_NOTES = {
    "release": "the release's encoder input (transform_normalized_parted2global of the normalised global poses, as "
               "the paper's Speech2Gesture FTD); in Tables 1-3 each such cell ends with FTD on the poses made "
               "parted (*parted input*), the space of every other row; FTD_parted in the evaluation JSON",
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


PAPER_NOTE = ("Each cell: this workflow's mean ± sample std over seeds, then the paper's value and the difference "
              "ours - paper, e.g. `52.31 ± 0.42 (paper 50.6; Δ +1.71)`; *not run*: the config did not evaluate "
              "that method on that speaker.  L2 (px, final results on Oliver's scale), E_lip (lip-sync error) and FTD "
              "(Fréchet Template Distance on the pose VAE's mu): lower is better (the paper: lower L2 does not mean "
              "better for this task).  The paper's numbers: config/published/paper_results.csv.")


def paper_markdown(grids, results, frame):
    lines = ["# Speech Drives Templates: the paper's tables beside this workflow's", "",
             PAPER_NOTE + "  " + _settings_note(results) + _stats_note(frame), ""]
    for table in (1, 2, 3):
        lines += [f"## {TITLES[table]}", "", *_markdown_table(grids[table]), ""]
    return "\n".join(lines)


def paper_html(grids, results, frame):
    """The same tables as a stand-alone HTML page (the HTML report shows it)."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>SDT: the paper's tables</title><style>",
             "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #bbb;padding:3px 6px;font-size:90%}td{text-align:right}"
             "td:first-child,td:nth-child(2){text-align:left}</style></head><body>",
             "<h1>Speech Drives Templates: the paper's tables beside this workflow's</h1>",
             f"<p>{html.escape(PAPER_NOTE)} {html.escape(_settings_note(results) + _stats_note(frame))}</p>"]
    for table in (1, 2, 3):
        parts += [f"<h2>{html.escape(TITLES[table])}</h2>", grids[table].to_html(index=False, escape=True)]
    return "\n".join(parts + ["</body></html>"]) + "\n"


def evaluations_markdown(frame, results, labels=None):
    """Every evaluation as Markdown, with a short note on units and settings."""
    labels = {**LABELS, **(labels or {})}
    key, header, decimals = RELEASE_INPUT
    release = bool(frame[key].notna().any())  # some global-pose model
    cols = ["speaker", "method", *(METRIC[m].header for m in METRICS), *([header] if release else []), "clips"]
    note = ("Final results: neck-relative px on Oliver's scale (docs/dataset.md §5).  " + metrics_note() + "  "
            + _settings_note(results, ftd_input=False) + _stats_note(frame)
            + "  FTD: every row in one space, the pose VAE's codes of the poses made parted"
            + (f"; *{header[:-2]}*: a global-pose model's FTD on the release's encoder input "
               "(transform_normalized_parted2global), the paper's path for its Speech2Gesture row, another space"
               if release else "") + ".")
    if "L2_std" in frame:
        note += ("  Mean ± sample std over seeds; methods that draw nothing at random and the reference rows are "
                 "deterministic and evaluated once.")
    rows = [[str(row["speaker"]), labels.get(row["method"], row["method"]),
             *(_cell(row[m], row.get(f"{m}_std"), METRIC[m].decimals) for m in METRICS),
             *([_cell(row[key], row.get(f"{key}_std"), decimals)] if release else []), str(row["n_clips"])]
            for row in frame.to_dict("records")]
    lines = ["# Speech Drives Templates: every evaluation on the dev split", "", note, "",
             *_markdown_table(pd.DataFrame(rows, columns=cols))]
    return "\n".join(lines) + "\n"


def write_paper_tables(paths, published, out, labels=None):
    """Read the evaluation JSONs at ``paths`` and the published numbers; write ``out`` {csv, md, html: Tables 1-3;
    evaluations_csv, evaluations_md: every evaluation}.  ``labels``: display names of methods.  Returns (the
    long DataFrame of Tables 1-3, the DataFrame of every evaluation)."""
    results = [read_evaluation(p) for p in paths]
    frame = evaluation_table(results)
    cells = paper_cells(read_published(published), results)
    grids = paper_grids(cells, labels)
    write_csv(out["evaluations_csv"], frame)
    write_text(out["evaluations_md"], evaluations_markdown(frame, results, labels))
    write_csv(out["csv"], cells.replace({np.nan: None}))
    write_text(out["md"], paper_markdown(grids, results, frame))
    write_text(out["html"], paper_html(grids, results, frame))
    return cells, frame
