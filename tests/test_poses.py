"""Pose transforms (docs/dataset.md §3) and reading speaker statistics, on numpy arrays and torch tensors."""

import numpy as np
import pytest
import torch

from sdt import layout
from sdt.errors import InputError
from sdt.poses import (
    denormalise,
    final_results,
    load_stats,
    normalise,
    stats_for,
    to_121,
    to_global,
    to_parted,
)


def random_pose137(shape=(2, 5), seed=0):
    rng = np.random.default_rng(seed)
    pose = rng.uniform(10, 1000, size=(*shape, 3, 137)).astype(np.float32)
    pose[..., 2, :] = rng.uniform(0, 1, size=(*shape, 137))
    return pose


def test_to_121_values():
    pose = random_pose137()
    g = to_121(pose)
    assert g.shape == (2, 5, 2, 121) and g.dtype == np.float32
    neck = pose[..., :2, 1]
    # (121-index, 137-index): nose, RWrist, LWrist, REye, LEye, first face point, nose tip, both hands' ends
    pairs = [(0, 0), (3, 4), (6, 7), (7, 15), (8, 16), (9, 25), (39, 55), (79, 95), (100, 116), (120, 136)]
    for j, k in pairs:
        np.testing.assert_array_equal(g[..., j], pose[..., :2, k] - neck)
    np.testing.assert_array_equal(to_121(pose[..., :2, :]), g)  # confidence row optional
    assert to_121(pose[0, 0]).shape == (2, 121)


def test_to_121_torch_matches_numpy():
    pose = random_pose137()
    t = to_121(torch.from_numpy(pose))
    assert isinstance(t, torch.Tensor) and t.shape == (2, 5, 2, 121)
    np.testing.assert_array_equal(t.numpy(), to_121(pose))


def test_to_121_rejects_other_layouts():
    with pytest.raises(ValueError, match="137"):
        to_121(np.zeros((4, 3, 25)))


def test_to_parted_values():
    g = to_121(random_pose137())
    p = to_parted(g)
    np.testing.assert_array_equal(p[..., :9], g[..., :9])  # body, eyes: neck-relative
    np.testing.assert_array_equal(p[..., 39], g[..., 39])  # the nose tip stays neck-relative
    np.testing.assert_array_equal(p[..., 10], g[..., 10] - g[..., 39])
    np.testing.assert_array_equal(p[..., 78], g[..., 78] - g[..., 39])
    np.testing.assert_array_equal(p[..., 79], g[..., 79] - g[..., 6])  # left hand on the left wrist
    np.testing.assert_array_equal(p[..., 120], g[..., 120] - g[..., 3])  # right hand on the right wrist


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_parted_global_round_trip_exact(kind):
    rng = np.random.default_rng(1)
    g = rng.integers(-500, 500, size=(3, 64, 2, 121)).astype(np.float32) / 4  # exact in float32
    g_in = torch.from_numpy(g.copy()) if kind == "torch" else g.copy()
    p = to_parted(g_in)
    back = to_global(p)
    assert type(back) is type(g_in)
    np.testing.assert_array_equal(np.asarray(back), g)
    np.testing.assert_array_equal(np.asarray(g_in), g)  # input untouched
    np.testing.assert_array_equal(np.asarray(to_parted(to_global(p))), np.asarray(p))


def test_parted_round_trip_random_floats_and_grad():
    g = torch.randn(2, 64, 2, 121, dtype=torch.float64, requires_grad=True) * 300
    back = to_global(to_parted(g))
    torch.testing.assert_close(back, g, rtol=0, atol=1e-10)
    back.sum().backward()  # differentiable (no in-place writes on the input)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_normalise_round_trip(kind):
    rng = np.random.default_rng(2)
    mean = rng.normal(0, 100, (2, 121)).astype(np.float32)
    std = rng.uniform(1, 50, (2, 121)).astype(np.float32)
    p = rng.normal(0, 200, (4, 64, 2, 121)).astype(np.float32)
    x = torch.from_numpy(p) if kind == "torch" else p
    n = normalise(x, mean, std)  # numpy stats on torch poses are converted
    assert type(n) is type(x) and n.dtype == x.dtype
    np.testing.assert_allclose(np.asarray(n), (p - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(denormalise(n, mean, std)), p, atol=1e-3)


def _stats(scale=0.5):
    ones = np.ones((2, 121), np.float32)
    return {"mean_parted": ones, "std_parted": 2 * ones, "mean_global": 3 * ones, "std_global": 4 * ones,
            "scale_factor": scale, "scale_rule": "test", "n_train_clips": 7}


def test_final_results_known_values():
    stats = _stats()
    z = np.zeros((2, 64, 2, 121), np.float32)
    glob = final_results(z + 1, stats, parted=False)  # (1 * 4 + 3) * 0.5
    np.testing.assert_allclose(glob, 3.5)
    parted = final_results(z, stats, parted=True)  # denormalised 1 everywhere; children get their parent's 1
    children = layout.PARENT_121 >= 0
    np.testing.assert_allclose(parted[..., ~children], 0.5)
    np.testing.assert_allclose(parted[..., children], 1.0)
    stats_t = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in stats.items()}
    stats_t["scale_factor"] = torch.tensor(0.5)
    out = final_results(torch.zeros(2, 64, 2, 121), stats_t, parted=True)
    np.testing.assert_allclose(out.numpy(), parted)


def test_load_stats(tmp_path):
    s = _stats(0.9549234615419752)
    path = tmp_path / "stats.npz"
    np.savez(path, **s)
    got = load_stats(path)
    assert got["scale_factor"] == s["scale_factor"] and got["scale_rule"] == "test"
    assert got["n_train_clips"] == 7
    mean, std = stats_for(got, parted=False)
    np.testing.assert_array_equal(mean, 3)
    np.testing.assert_array_equal(std, 4)
    assert mean.dtype == np.float32 and stats_for(got, parted=True)[1][0, 0] == 2
    np.savez(tmp_path / "bad.npz", **{k: v for k, v in s.items() if k != "std_global"})
    with pytest.raises(InputError, match="bad.npz.*std_global"):
        load_stats(tmp_path / "bad.npz")
