"""sdt/evaluate/paper_tables.py: the paper table from evaluation JSONs (in sdt.evaluate.evaluate's format), mean and std
over seeds."""

import json

import numpy as np
import pandas as pd
import pytest

from sdt.errors import InputError
from sdt.evaluate.metrics import METRICS, aggregate
from sdt.evaluate.paper_tables import write_paper_tables


def evaluation(tmp_path, speaker, method, per_seed_l2, n_clips=10, diversity=1.5, stats="computed"):
    """An evaluation JSON as sdt.evaluate.evaluate.evaluate writes it; metric m of seed i = L2_i + offset of m."""
    seeds = list(range(len(per_seed_l2))) if len(per_seed_l2) > 1 else []
    per_seed = [{"seed": s if seeds else None, "L2": l2, "lip_sync_error": 0.1 + l2 / 100, "FTD": 2 * l2,
                 "FTD_mu_logvar": 3 * l2, "diversity": diversity, "PCK": 0.5}
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


def test_several_seeds_give_mean_and_std(tmp_path):
    paths = [evaluation(tmp_path, "oliver", "ground_truth", [0.0], diversity=None),
             evaluation(tmp_path, "oliver", "s2g", [5.0]),
             evaluation(tmp_path, "oliver", "sdt_bp", [1.0, 2.0, 3.0], n_clips=7)]
    frame = write_paper_tables(paths, tmp_path / "t.csv", tmp_path / "t.md")
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns[:9]) == ["speaker", "method", *METRICS, "n_clips"]
    assert {f"{m}_std" for m in METRICS} <= set(csv.columns)
    assert list(csv["method"]) == ["ground_truth", "s2g", "sdt_bp"]  # the order of the files
    bp = csv.set_index("method").loc["sdt_bp"]
    assert bp["L2"] == pytest.approx(2.0) and bp["L2_std"] == pytest.approx(1.0)  # ddof 1
    assert bp["FTD"] == pytest.approx(4.0) and bp["FTD_std"] == pytest.approx(2.0)
    assert bp["n_clips"] == 7 and bp["n_seeds"] == 3
    assert np.isnan(csv.set_index("method").loc["s2g", "L2_std"])  # one run: no std
    assert np.isnan(csv.set_index("method").loc["ground_truth", "diversity"])
    assert len(frame) == 3

    md = (tmp_path / "t.md").read_text()
    rows = {line.split("|")[2].strip(): line for line in md.splitlines() if line.startswith("| oliver")}
    assert "| 2.00 ± 1.00 |" in rows["SDT-BP"] and "| 4.000 ± 2.000 |" in rows["SDT-BP"]
    assert "| 5.00 |" in rows["Speech2Gesture"] and "±" not in rows["Speech2Gesture"]
    assert "| – |" in rows["ground truth"]
    assert "seeds: 0, 1, 2" in md and "random_train" in md


def test_one_seed_has_no_std_columns(tmp_path):
    paths = [evaluation(tmp_path, s, m, [1.0], stats="release" if s == "oliver" else "computed")
             for s in ("oliver", "xing") for m in ("mean_pose", "sdt_vae")]
    write_paper_tables(paths, tmp_path / "t.csv", tmp_path / "t.md")
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns) == ["speaker", "method", *METRICS, "n_clips", "n_seeds", "stats"]
    assert list(csv["stats"]) == ["release", "release", "computed", "computed"]  # which statistics each row used
    assert list(zip(csv["speaker"], csv["method"], strict=True)) == [
        ("oliver", "mean_pose"), ("oliver", "sdt_vae"), ("xing", "mean_pose"), ("xing", "sdt_vae")]
    md = (tmp_path / "t.md").read_text()
    assert "±" not in md and md.count("\n| ") == 5  # header + 4 rows
    assert "oliver: the release's published statistics; xing: statistics computed from its train clips" in md


def test_bad_inputs(tmp_path):
    good = evaluation(tmp_path, "oliver", "s2g", [1.0])
    with pytest.raises(ValueError, match="two evaluations of oliver / s2g"):
        write_paper_tables([good, good], tmp_path / "t.csv", tmp_path / "t.md")
    broken = tmp_path / "broken.json"
    broken.write_text('{"speaker": "oliver"}')
    with pytest.raises(InputError, match="broken.json: not an evaluation result"):
        write_paper_tables([good, broken], tmp_path / "t.csv", tmp_path / "t.md")
    assert not (tmp_path / "t.csv").exists() and not (tmp_path / "t.md").exists()


def test_note_names_the_ftd_input_of_global_models(tmp_path):
    paths = [evaluation(tmp_path, "oliver", "sdt_bp", [1.0]), evaluation(tmp_path, "oliver", "s2g", [2.0])]
    for path, representation in zip(paths, ("parted", "global"), strict=True):
        result = json.loads(path.read_text())
        path.write_text(json.dumps({**result, "representation": representation, "ftd_input": "release"}))
    write_paper_tables(paths, tmp_path / "t.csv", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert "FTD of global-pose models (Speech2Gesture): the release's encoder input" in md
    write_paper_tables(paths[:1], tmp_path / "t.csv", tmp_path / "t.md")  # no global model: no note
    assert "global-pose" not in (tmp_path / "t.md").read_text()
