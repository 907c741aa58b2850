"""compute_stats (docs/dataset.md §13): statistics of the train poses, checked against a direct numpy computation, and
the scale_factor of each rule."""

import json

import numpy as np
import pytest

from sdt import layout
from sdt.constants import OLIVER_SCALE_FACTOR, OLIVER_SHOULDER_PX, RELEASE_STATS_JSON, REPO
from sdt.dataset.compute_stats import (
    compute_pose_stats,
    compute_stats,
    mean_shoulder_width,
)
from sdt.errors import InputError
from sdt.poses import load_stats, to_121, to_parted

KEEP_121 = np.r_[0, 2:8, 15, 16, 25:137]  # docs/dataset.md §3, written out here independently of sdt.layout
WIDTH = 250.0


def train_clips(n=5, t=12, seed=0):
    """[n, t, 3, 137] px with shoulders (points 2, 5) exactly WIDTH apart, a few undetected points (0, 0, 0)."""
    rng = np.random.default_rng(seed)
    pose = rng.uniform(100, 900, size=(n, t, 3, 137)).astype(np.float32)
    pose[:, :, 2] = rng.uniform(0.5, 1, size=(n, t, 137))
    pose[:, :, :2, 5] = pose[:, :, :2, 2] + np.array([WIDTH, 0], np.float32)
    pose[0, 3, :, 100] = 0  # a left-hand point undetected once
    pose[1, :4, :, 7] = 0  # the left wrist (a parent) undetected on 4 frames
    pose[2, 5, :, 5] = 0  # a shoulder undetected: that frame is left out of the shoulder width
    return pose


def direct_stats(pose):
    """Release aggregation, by hand: per frame position the mean of the detected values; mean = average of those
    over positions; std = per position RMS deviation from that mean, averaged over positions."""
    xy = pose[:, :, :2].astype(np.float64)
    det = ~((np.abs(xy[:, :, 0]) < 5) & (np.abs(xy[:, :, 1]) < 5))  # [n, t, 137]
    g = xy[..., KEEP_121] - xy[..., 1:2]
    g_ok = det[..., KEEP_121] & det[..., 1:2]
    parent = np.arange(121)
    parent[[i for i in range(9, 79) if i != 39]] = 39
    parent[79:100], parent[100:121] = 6, 3
    child = parent != np.arange(121)
    p = g - g[..., parent] * child
    p_ok = g_ok & g_ok[..., parent]
    out = {}
    for kind, vals, ok in (("global", g, g_ok), ("parted", p, p_ok)):
        v = np.ma.masked_array(vals, mask=np.broadcast_to(~ok[:, :, None], vals.shape))
        mean = v.mean(0).mean(0)  # [2, 121]
        std = np.sqrt(((v - mean) ** 2).mean(0)).mean(0)
        out[f"mean_{kind}"], out[f"std_{kind}"] = mean.filled(np.nan), std.filled(np.nan)
    return out


@pytest.fixture
def train_npy(tmp_path):
    path = tmp_path / "dataset" / "train_poses.npy"
    path.parent.mkdir()
    np.save(path, train_clips())
    return path


def test_statistics_match_a_direct_computation(train_npy, tmp_path):
    compute_stats(train_npy, tmp_path / "stats.npz", "rescaled_to_oliver")
    stats = load_stats(tmp_path / "stats.npz")
    expected = direct_stats(np.load(train_npy))
    for key, value in expected.items():
        assert stats[key].dtype == np.float32 and stats[key].shape == (2, 121)
        np.testing.assert_allclose(stats[key], value, rtol=1e-5, atol=1e-3, err_msg=key)
    assert stats["n_train_clips"] == 5 and stats["scale_rule"] == "rescaled_to_oliver"
    with np.load(tmp_path / "stats.npz") as z:
        assert float(z["shoulder_px"]) == pytest.approx(WIDTH, rel=1e-6)


def test_shoulder_width_skips_undetected_shoulders():
    pose = train_clips()
    assert mean_shoulder_width(pose, chunk=2) == pytest.approx(WIDTH, rel=1e-6)
    pose[3, 0, :2, 5] = pose[3, 0, :2, 2] + np.array([WIDTH + 59 * 10, 0])  # one frame of 60: mean +10 px
    assert mean_shoulder_width(pose) == pytest.approx(WIDTH + 10, rel=1e-6)


@pytest.mark.parametrize(
    "rule, kwargs, factor, recorded",
    [
        ("rescaled_to_oliver", {}, OLIVER_SCALE_FACTOR, "rescaled_to_oliver"),  # the release: Oliver's factor
        ("rescaled_to_oliver", {"reference_px": 2 * OLIVER_SHOULDER_PX}, OLIVER_SCALE_FACTOR / 2,
         "rescaled_to_oliver"),
        ("shoulder_width", {}, 0.9549234615419752 * 331.0850066245443 / WIDTH, "shoulder_width"),
        ("released", {"speaker": "kubinec"}, 1.0914536376627224, "released"),
        ("released", {"speaker": "Luo"}, 0.7677720132349674, "released"),
        ("released", {"speaker": "xing"}, 0.9187941449738536, "released"),
        ("released", {"speaker": "oliver"}, 0.9549234615419752, "released"),
        ("released", {"speaker": "me"}, 0.9549234615419752 * 331.0850066245443 / WIDTH, "shoulder_width"),
    ],
)
def test_scale_factor_rules(train_npy, tmp_path, rule, kwargs, factor, recorded):
    compute_stats(train_npy, tmp_path / "stats.npz", rule, **kwargs)
    stats = load_stats(tmp_path / "stats.npz")
    assert stats["scale_factor"] == pytest.approx(factor, rel=1e-6)
    assert stats["scale_rule"] == recorded
    if rule == "rescaled_to_oliver" and not kwargs:
        assert stats["scale_factor"] == 0.9549234615419752  # exactly


def test_released_speaker_name_comes_from_the_index(train_npy, tmp_path):
    index = tmp_path / "clips.csv"
    index.write_text("dataset,speaker,index\ntrain,xing,0\ndev,xing,0\n")
    compute_stats(train_npy, tmp_path / "stats.npz", "released", speaker="my_config_name", index=index)
    assert load_stats(tmp_path / "stats.npz")["scale_factor"] == 0.9187941449738536


def test_bad_train_poses(tmp_path):
    empty = tmp_path / "train_poses.npy"
    np.save(empty, np.zeros((0, 64, 3, 137), np.float32))
    with pytest.raises(InputError, match="train_poses.npy: no train clips"):
        compute_stats(empty, tmp_path / "stats.npz", "shoulder_width")
    np.save(empty, np.zeros((2, 64, 2, 121), np.float32))
    with pytest.raises(InputError, match=r"must be \[N, T, 3, 137\]"):
        compute_stats(empty, tmp_path / "stats.npz", "shoulder_width")
    no_shoulders = train_clips()
    no_shoulders[..., 5] = 0
    np.save(empty, no_shoulders)
    with pytest.raises(InputError, match="shoulder width nan"):
        compute_stats(empty, tmp_path / "stats.npz", "shoulder_width")
    with pytest.raises(ValueError, match="unknown scale rule"):
        compute_stats(empty, tmp_path / "stats.npz", "guess")
    assert not (tmp_path / "stats.npz").exists()


def random_pose137(shape=(2, 5), seed=0):
    rng = np.random.default_rng(seed)
    pose = rng.uniform(10, 1000, size=(*shape, 3, 137)).astype(np.float32)
    pose[..., 2, :] = rng.uniform(0, 1, size=(*shape, 137))
    return pose


def naive_stats(poses):
    """Loop version of compute_pose_stats' definition: per frame position and point, the kept values; mean of
    the positions' means; the positions' RMS deviations from that mean, averaged."""
    n_clips, n_frames = poses.shape[:2]
    values = {kind: [[[] for _ in range(121)] for _ in range(n_frames)] for kind in ("global", "parted")}
    for n in range(n_clips):
        for t in range(n_frames):
            raw = poses[n, t, :2].astype(np.float64)
            det = [not (abs(raw[0, k]) < 5 and abs(raw[1, k]) < 5) for k in range(137)]
            for j, k in enumerate(layout.KEEP_121):
                if not (det[k] and det[1]):
                    continue
                value = raw[:, k] - raw[:, 1]
                values["global"][t][j].append(value)
                parent = layout.PARENT_121[j]
                if parent < 0:
                    values["parted"][t][j].append(value)
                elif det[layout.KEEP_121[parent]]:
                    values["parted"][t][j].append(value - (raw[:, layout.KEEP_121[parent]] - raw[:, 1]))
    out = {}
    for kind, per_frame in values.items():
        mean, std = np.zeros((2, 121)), np.ones((2, 121))
        for j in range(121):
            frames = [np.array(per_frame[t][j]) for t in range(n_frames) if per_frame[t][j]]
            if not frames:
                continue
            mean[:, j] = np.mean([f.mean(axis=0) for f in frames], axis=0)
            s = np.mean([np.sqrt(((f - mean[:, j]) ** 2).mean(axis=0)) for f in frames], axis=0)
            std[:, j] = np.where(s < 1e-6, 1.0, s)
        out[f"mean_{kind}"], out[f"std_{kind}"] = mean, std
    return out


def test_compute_pose_stats_matches_naive_loop():
    rng = np.random.default_rng(3)
    poses = random_pose137((7, 6), seed=3)
    missing = rng.uniform(size=(7, 6, 1, 137)) < 0.05
    poses = np.where(missing, np.float32(0), poses)  # scattered undetected points
    poses[:, :, :, 100] = 0  # left-hand point 5 never detected: mean 0, std 1
    poses[2, 3, :, 1] = 0  # an undetected neck: that frame gives no values
    poses[4, 1, :2, 7] = 0  # an undetected left wrist: its hand gives no parted values there
    poses[1, 2, :2, 0] = (3.0, 4.9)  # inside the 5 px box: undetected
    poses[1, 3, :2, 0] = (3.0, 5.1)  # outside: detected
    got = compute_pose_stats(poses, chunk=3)
    want = naive_stats(poses)
    for k, v in want.items():
        assert got[k].shape == (2, 121) and got[k].dtype == np.float32
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-4, err_msg=k)
    assert got["std_parted"][0, 100 - 95 + 79] == 1 and got["mean_global"][0, 100 - 95 + 79] == 0
    again = compute_pose_stats(poses, chunk=256)
    for k in want:
        np.testing.assert_allclose(again[k], got[k], rtol=1e-6)


def test_compute_pose_stats_plain_values():
    # two clips of one frame: every value is data, so the stats are the plain mean and population std
    poses = random_pose137((2, 1), seed=4)
    got = compute_pose_stats(poses)
    g = to_121(poses.astype(np.float64))[:, 0]
    np.testing.assert_allclose(got["mean_global"], g.mean(0), rtol=1e-6)
    np.testing.assert_allclose(got["std_global"], g.std(0), rtol=1e-5)
    np.testing.assert_allclose(got["std_parted"], to_parted(g).std(0), rtol=1e-5)


# --- the release's statistics (config/published/release_speakers_stat.json and its README) ---------------------

RELEASE_JSON = REPO / RELEASE_STATS_JSON


@pytest.mark.parametrize(("choice", "rule", "name", "source"), [
    ("auto", "released", "oliver", "release"),  # a released speaker the tables cover: the release's numbers
    ("auto", "shoulder_width", "oliver", "computed"),  # oliver built from videos: his own clips
    ("auto", "released", "somebody", "computed"),  # a released speaker the tables do not know
    ("computed", "released", "luo", "computed"),
    ("release", "shoulder_width", "xing", "release"),  # asked for: the release's numbers whatever the source
])
def test_which_statistics(train_npy, tmp_path, choice, rule, name, source):
    out = compute_stats(train_npy, tmp_path / "stats.npz", rule, speaker=name, stats=choice, release_json=RELEASE_JSON)
    stats = load_stats(tmp_path / "stats.npz")
    assert stats["stats_source"] == source and str(out["stats_source"]) == source
    computed = compute_pose_stats(np.load(train_npy))
    if source == "release":
        table = json.loads(RELEASE_JSON.read_text())
        for kind in ("global", "parted"):  # 242 numbers = x row then y row, in the 121-point order
            np.testing.assert_array_equal(stats[f"mean_{kind}"], np.float32(table[kind][name]["mean"]).reshape(2, 121))
            np.testing.assert_array_equal(stats[f"std_{kind}"], np.float32(table[kind][name]["std"]).reshape(2, 121))
        assert stats["scale_factor"] == table["parted"][name]["scale_factor"]
    else:
        np.testing.assert_array_equal(stats["mean_parted"], computed["mean_parted"])


def test_release_statistics_of_an_unknown_speaker_are_an_error(train_npy, tmp_path):
    with pytest.raises(InputError, match="no statistics of speaker 'somebody'.*oliver") as err:
        compute_stats(train_npy, tmp_path / "stats.npz", "released", speaker="somebody", stats="release")
    assert "train_poses.npy" in str(err.value) and not (tmp_path / "stats.npz").exists()
    # the release's parted-only speakers (angelica, seth) have no global statistics: not covered
    with pytest.raises(InputError, match="no statistics of speaker 'seth'"):
        compute_stats(train_npy, tmp_path / "stats.npz", "released", speaker="seth", stats="release")
