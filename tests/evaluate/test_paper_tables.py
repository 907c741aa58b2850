"""sdt/evaluate/paper_tables.py: the paper's Tables 1-3 beside the published numbers (config/published/), and the
table of every evaluation, from evaluation JSONs in sdt.evaluate.evaluate's format."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from sdt.errors import InputError
from sdt.evaluate.metrics import METRICS, aggregate
from sdt.evaluate.paper_tables import write_paper_tables

PUBLISHED = REPO / "config" / "published" / "paper_results.csv"


def evaluation(tmp_path, speaker, method, per_seed_l2, n_clips=10, diversity=1.5, stats="computed"):
    """An evaluation JSON as sdt.evaluate.evaluate.evaluate writes it; metric m of seed i = L2_i + offset of m."""
    seeds = list(range(len(per_seed_l2))) if len(per_seed_l2) > 1 else []
    per_seed = [{"seed": s if seeds else None, "L2": l2, "lip_sync_error": 0.1 + l2 / 100, "FTD": 2 * l2,
                 "FTD_mu_logvar": 3 * l2, "diversity": diversity, "PCK": 0.5, "BC": 0.8, "L1div": 20.0}
                for s, l2 in zip(seeds or [None], per_seed_l2, strict=True)]
    mean, std = aggregate(per_seed)
    result = {"speaker": speaker, "method": method, "split": "dev", **mean, "n_clips": n_clips, "seeds": seeds,
              "std": std, "per_seed": per_seed,
              "settings": {"template": "random_train", "seeds": seeds or [0], "diversity_samples": 5,
                           "pck_threshold": 0.2, "batch_size": 64},
              "stats": {"path": f"results/{speaker}/stats.npz", "source": stats, "scale_factor": 1.0}}
    path = tmp_path / f"{speaker}_{method}.json"
    path.write_text(json.dumps(result))
    return path


def outputs(tmp_path):
    return {k: tmp_path / f"out_{k}" for k in ("csv", "md", "html", "evaluations_csv", "evaluations_md")}


def sections(md):
    """{table number: {first cell: row line}} of the Markdown's three tables."""
    out, table = {}, None
    for line in md.splitlines():
        if line.startswith("## Table "):
            table = int(line.split()[2].rstrip(":"))
            out[table] = {}
        elif table and line.startswith("| ") and not line.startswith("| method |") and \
                not line.startswith("| variant |"):
            out[table][line.split("|")[1].strip()] = line
    return out


@pytest.fixture
def run(tmp_path):
    """A tiny run: the sample speaker (not in the paper) and oliver, a few methods, one with three seeds."""
    paths = [evaluation(tmp_path, "sample", "ground_truth", [0.0], diversity=None),
             evaluation(tmp_path, "sample", "s2g", [5.0]),
             evaluation(tmp_path, "sample", "sdt_bp", [1.0, 2.0, 3.0], n_clips=7),
             evaluation(tmp_path, "oliver", "sdt_bp", [50.0, 52.0]),
             evaluation(tmp_path, "oliver", "in_global", [40.0])]
    out = outputs(tmp_path)
    cells, frame = write_paper_tables(paths, PUBLISHED, out)
    return cells, frame, out


def test_every_row_of_the_three_tables_with_the_papers_values(run):
    cells, _, out = run
    published = pd.read_csv(PUBLISHED)
    for table, part in published.groupby("table"):  # every published row is a row of its table, in order
        rows = cells[cells["table"] == table].drop_duplicates("row")
        assert list(rows["method"]) == list(part.sort_values("row")["method"].drop_duplicates())
        shown = cells[(cells["table"] == table) & cells["paper"].notna()]
        assert len(shown) == part[["L2", "lip_sync_error", "FTD"]].notna().sum().sum()  # the paper's, everywhere
    md = sections(out["md"].read_text())
    assert set(md) == {1, 2, 3}
    assert list(md[2]) == ["Audio to Body Dynamics", "Speech2Gesture", "MoGlow", "SDT-BP", "SDT-VAE"]
    assert list(md[1]) == ["IN* hierarchical; no template", "template-BP frame-wise", "template-BP clip-wise",
                           "template-VAE clip-wise"]
    assert list(md[3]) == ["BN; not hierarchical", "IN; not hierarchical", "IN*; not hierarchical",
                           "IN*; hierarchical"]  # in_parted and bn_parted were not evaluated: not shown


def test_cells_hold_ours_the_paper_and_the_difference(run):
    cells, _, out = run
    bp = cells[(cells["table"] == 2) & (cells["method"] == "sdt_bp") & (cells["speaker"] == "oliver")]
    l2 = bp[bp["metric"] == "L2"].iloc[0]
    assert (l2["status"], l2["value"], l2["paper"], l2["n_seeds"]) == ("run", 51.0, 50.6, 2)
    assert l2["std"] == pytest.approx(np.sqrt(2)) and l2["difference"] == pytest.approx(0.4)
    header = next(line for line in out["md"].read_text().splitlines() if line.startswith("| method |"))
    columns = [c.strip() for c in header.split("|")[1:-1]]
    # the paper's speaker order, then the speakers it did not use
    assert [c.split()[0] for c in columns[2::3]] == ["oliver", "kubinec", "xing", "luo", "sample"]
    row = [c.strip() for c in sections(out["md"].read_text())[2]["SDT-BP"].split("|")[1:-1]]
    assert row[columns.index("oliver L2 ↓")] == "51.00 ± 1.41 (paper 50.6; Δ +0.40)"
    assert row[columns.index("kubinec FTD ↓")] == "not run (paper 1.98)"
    assert row[columns.index("sample L2 ↓")] == "2.00 ± 1.00"  # no paper value for the sample speaker
    s2g = [c.strip() for c in sections(out["md"].read_text())[2]["Speech2Gesture"].split("|")[1:-1]]
    assert s2g[columns.index("sample FTD ↓")] == "10.000"
    assert s2g[columns.index("oliver FTD ↓")] == "not run (paper 8.30)"
    t3 = sections(out["md"].read_text())[3]["IN; not hierarchical"]
    assert "0.500 (paper 0.19; Δ +0.310)" in t3 and "80.000 (paper 1.54; Δ +78.460)" in t3
    not_run = cells[cells["status"] == "not run"]
    assert not_run["value"].isna().all() and not_run["difference"].isna().all()
    csv = pd.read_csv(out["csv"])
    assert len(csv) == len(cells) and set(csv["status"]) == {"run", "not run"}
    html = out["html"].read_text()
    assert all(f"Table {t}:" in html for t in (1, 2, 3)) and "51.00 ± 1.41 (paper 50.6; Δ +0.40)" in html


def test_the_grid_cells_the_paper_did_not_run_are_rows_when_evaluated(tmp_path):
    paths = [evaluation(tmp_path, "oliver", "in_parted", [40.0]), evaluation(tmp_path, "oliver", "bn_parted", [41.0])]
    out = outputs(tmp_path)
    write_paper_tables(paths, PUBLISHED, out, labels={"in_parted": "IN, parted"})
    rows = sections(out["md"].read_text())[3]
    assert list(rows)[-2:] == ["BN; hierarchical (not in the paper)", "IN; hierarchical (not in the paper)"]
    assert "0.500 (paper" not in rows["IN; hierarchical (not in the paper)"]  # no paper value to compare with
    assert "| 0.500 |" in rows["IN; hierarchical (not in the paper)"]


def test_every_evaluation_with_mean_and_std(run):
    _, frame, out = run
    csv = pd.read_csv(out["evaluations_csv"])
    assert list(csv.columns[:13]) == ["speaker", "method", *METRICS, "FTD_release", "n_clips", "n_seeds"]
    assert {f"{m}_std" for m in METRICS} <= set(csv.columns)
    assert list(csv["method"]) == ["ground_truth", "s2g", "sdt_bp", "sdt_bp", "in_global"]  # the order of the files
    bp = csv[(csv["method"] == "sdt_bp") & (csv["speaker"] == "sample")].iloc[0]
    assert bp["L2"] == pytest.approx(2.0) and bp["L2_std"] == pytest.approx(1.0)  # ddof 1
    assert bp["FTD"] == pytest.approx(4.0) and bp["FTD_std"] == pytest.approx(2.0)
    assert bp["n_clips"] == 7 and bp["n_seeds"] == 3 and bp["BC"] == pytest.approx(0.8)
    assert np.isnan(csv.set_index("method").loc["s2g", "L2_std"])  # one run: no std
    assert np.isnan(csv.set_index("method").loc["ground_truth", "diversity"])
    assert len(frame) == 5
    md = out["evaluations_md"].read_text()
    rows = {line.split("|")[2].strip(): line for line in md.splitlines() if line.startswith("| sample")}
    assert "| 2.00 ± 1.00 |" in rows["SDT-BP"] and "| 4.000 ± 2.000 |" in rows["SDT-BP"]
    assert "| 5.00 |" in rows["Speech2Gesture"] and "±" not in rows["Speech2Gesture"]
    assert "| – |" in rows["ground truth"] and "BC ↑" in md
    assert "seeds: 0, 1, 2" in md and "random_train" in md


def test_one_seed_has_no_std_columns(tmp_path):
    paths = [evaluation(tmp_path, s, m, [1.0], stats="release" if s == "oliver" else "computed")
             for s in ("oliver", "xing") for m in ("mean_pose", "sdt_vae")]
    out = outputs(tmp_path)
    write_paper_tables(paths, PUBLISHED, out)
    csv = pd.read_csv(out["evaluations_csv"])
    assert list(csv.columns) == ["speaker", "method", *METRICS, "FTD_release", "n_clips", "n_seeds", "stats"]
    assert list(csv["stats"]) == ["release", "release", "computed", "computed"]  # which statistics each row used
    assert list(zip(csv["speaker"], csv["method"], strict=True)) == [
        ("oliver", "mean_pose"), ("oliver", "sdt_vae"), ("xing", "mean_pose"), ("xing", "sdt_vae")]
    md = out["evaluations_md"].read_text()
    assert "±" not in md and md.count("\n| ") == 5  # header + 4 rows
    for text in (md, out["md"].read_text()):
        assert "oliver: the release's published statistics; xing: statistics computed from its train clips" in text
    assert "| 1.00 (paper 57.8; Δ -56.80) |" in out["md"].read_text()  # xing's SDT-VAE: one seed, no std


def test_bad_inputs(tmp_path):
    good = evaluation(tmp_path, "oliver", "s2g", [1.0])
    out = outputs(tmp_path)
    with pytest.raises(ValueError, match="two evaluations of oliver / s2g"):
        write_paper_tables([good, good], PUBLISHED, out)
    broken = tmp_path / "broken.json"
    broken.write_text('{"speaker": "oliver"}')
    with pytest.raises(InputError, match="broken.json: not an evaluation result"):
        write_paper_tables([good, broken], PUBLISHED, out)
    bad_published = tmp_path / "published.csv"
    bad_published.write_text("table,row,speaker,method\n2,1,oliver,s2g\n")
    with pytest.raises(InputError, match="published.csv: lacks the columns FTD, L2, lip_sync_error, variant"):
        write_paper_tables([good], bad_published, out)
    assert not any(p.exists() for p in out.values())


def test_every_evaluation_in_one_ftd_space(tmp_path):
    """The table of every evaluation: FTD on the parted input for every row (a global model's FTD_parted), its FTD
    on the release's encoder input beside it; Tables 1-3 keep the configured input (here the release's)."""
    paths = [evaluation(tmp_path, "sample", "sdt_bp", [1.0]), evaluation(tmp_path, "sample", "s2g", [2.0])]
    for path, representation in zip(paths, ("parted", "global"), strict=True):
        result = json.loads(path.read_text())
        for r in result["per_seed"]:  # the release's input: FTD 4.0; parted: 7.0
            r.update({"FTD_release": r["FTD"], "FTD_parted": r["FTD"] + 3, "FTD_mu_logvar_release": 6.0,
                      "FTD_mu_logvar_parted": 9.0} if representation == "global" else {})
        path.write_text(json.dumps({**result, "representation": representation,
                                    "ftd_input": "release" if representation == "global" else "parted"}))
    out = outputs(tmp_path)
    write_paper_tables(paths, PUBLISHED, out)
    csv = pd.read_csv(out["evaluations_csv"]).set_index("method")
    assert (csv.loc["s2g", "FTD"], csv.loc["s2g", "FTD_mu_logvar"], csv.loc["s2g", "FTD_release"]) == (7.0, 9.0, 4.0)
    assert csv.loc["sdt_bp", "FTD"] == 2.0 and np.isnan(csv.loc["sdt_bp", "FTD_release"])
    md = out["evaluations_md"].read_text()
    header = next(line for line in md.splitlines() if line.startswith("| speaker"))
    assert "| FTD ↓ |" in header and "| FTD, release input ↓ |" in header
    s2g = next(line for line in md.splitlines() if line.startswith("| sample | Speech2Gesture"))
    assert "| 7.000 |" in s2g and "| 4.000 |" in s2g and "every row in one space" in md
    cells = pd.read_csv(out["csv"])  # Tables 1-3: the configured (release) input, as the paper's S2G row
    assert set(cells[(cells["method"] == "s2g") & (cells["metric"] == "FTD")]["value"].dropna()) == {4.0}
    # ... and each of a global model's FTD cells ends with its FTD on the parted input, every other row's space
    table2 = sections(out["md"].read_text())[2]
    assert table2["Speech2Gesture"].endswith("| 4.000; parted input 7.000 |")
    assert "parted input" not in table2["SDT-BP"] and "(*parted input*), the space of every other row" in \
        out["md"].read_text()
    del result["per_seed"][0]["FTD_parted"]  # an evaluation of a global model from before both inputs were kept
    paths[1].write_text(json.dumps({**result, "representation": "global"}))
    with pytest.raises(InputError, match="lacks FTD_parted"):
        write_paper_tables(paths, PUBLISHED, out)


def test_note_names_the_ftd_input_of_global_models(tmp_path):
    paths = [evaluation(tmp_path, "oliver", "sdt_bp", [1.0]), evaluation(tmp_path, "oliver", "s2g", [2.0])]
    for path, representation in zip(paths, ("parted", "global"), strict=True):
        result = json.loads(path.read_text())
        for r in result["per_seed"]:
            r.update({f"{m}_{i}": r[m] for m in ("FTD", "FTD_mu_logvar") for i in ("release", "parted")})
        path.write_text(json.dumps({**result, "representation": representation, "ftd_input": "release"}))
    out = outputs(tmp_path)
    write_paper_tables(paths, PUBLISHED, out)
    assert "FTD of global-pose models (Speech2Gesture): the release's encoder input" in out["md"].read_text()
    assert "FTD: every row in one space" in out["evaluations_md"].read_text()  # the release's: its own column
    write_paper_tables(paths[:1], PUBLISHED, out)  # no global model: no note
    assert "global-pose" not in out["evaluations_md"].read_text()
