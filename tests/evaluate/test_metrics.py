"""Metrics (docs/evaluation.md §1) against values derived by hand."""

import numpy as np
import pytest
import torch

from sdt.evaluate.metrics import (
    audio_onsets,
    beat_alignment,
    beat_consistency,
    diversity,
    fit_gaussian,
    frechet_distance,
    ftd,
    l1_diversity,
    l2,
    lip_opening,
    lip_sync_error,
    mean_speed,
    motion_beats,
    pck,
)


def random_poses(n=4, seed=0):
    return np.random.default_rng(seed).normal(0, 100, size=(n, 64, 2, 121))


def with_mouth(openings):
    """[N, 64] lip openings -> poses [N, 64, 2, 121], inner lips (71 above, 75 below) that far apart."""
    poses = random_poses(len(openings), seed=1)
    poses[..., 71] = (10.0, -50.0)
    poses[..., 75] = poses[..., 71]
    poses[..., 1, 75] += openings
    return poses


def test_l2_of_a_shift_is_its_length():
    true = random_poses()
    pred = true + np.array([3.0, 4.0])[:, None]
    np.testing.assert_allclose(l2(pred, true), 5.0)
    assert l2(pred, true).shape == (4,) and l2(true, true).max() == 0
    np.testing.assert_allclose(l2(torch.from_numpy(pred), torch.from_numpy(true)), 5.0)


def test_l2_averages_over_points():
    true = np.zeros((1, 64, 2, 121))
    pred = true.copy()
    pred[0, :, 0, 5] = 121.0  # one point 121 px off on every frame
    np.testing.assert_allclose(l2(pred, true), [1.0])


def test_l2_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        l2(np.zeros((2, 64, 2, 121)), np.zeros((3, 64, 2, 121)))


def test_lip_sync_error_closed_mouths_is_zero():
    closed = with_mouth(np.zeros((3, 64)))
    np.testing.assert_array_equal(lip_opening(closed), 0)
    other = closed.copy()
    other[..., :70] += 50.0  # a different body and face, the mouth still closed
    np.testing.assert_array_equal(lip_sync_error(other, closed), 0)


def test_lip_sync_error_known_value():
    t = np.arange(64)
    true_open = np.where(t % 2 == 0, 10.0, 0.0)[None]  # largest true opening 10 px
    pred_open = np.full((1, 64), 4.0)  # |4 - 10| on even frames, |4 - 0| on odd ones
    got = lip_sync_error(with_mouth(pred_open), with_mouth(true_open))
    want = (6.0 + 4.0) / 2 / (10.0 + 1e-4)
    np.testing.assert_allclose(got, [want], rtol=1e-12)


def test_frechet_distance_identical_sets_is_zero():
    codes = np.random.default_rng(2).normal(size=(500, 32))
    assert ftd(codes, codes) == pytest.approx(0, abs=1e-6)
    assert ftd(torch.from_numpy(codes), codes) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_equal_covariances_is_mean_distance():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 8))
    cov = np.cov(a, rowvar=False)
    m1, m2 = rng.normal(size=8), rng.normal(size=8)
    assert frechet_distance(m1, cov, m2, cov) == pytest.approx(np.sum((m1 - m2) ** 2), abs=1e-8)
    assert ftd(a + 2.0, a) == pytest.approx(8 * 4.0, abs=1e-8)  # a shift by 2 in each of 8 dimensions


def test_frechet_distance_of_known_gaussians():
    # 1-D: (m1 - m2)^2 + s1^2 + s2^2 - 2 s1 s2 = (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # diagonal covariances: the sum of the per-dimension values
    assert frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.ones(2), np.diag([4.0, 16.0])) == \
        pytest.approx(2.0 + 1.0 + 4.0)


def test_frechet_distance_rank_deficient_stays_finite():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(10, 64)), rng.normal(size=(10, 64)) + 0.5  # N < D: singular covariances
    d = ftd(a, b)
    assert np.isfinite(d) and d > 0
    same = ftd(a, a)
    assert np.isfinite(same) and 0 <= same < 1e-3
    zeros = np.zeros((5, 16))
    assert frechet_distance(*fit_gaussian(zeros), *fit_gaussian(zeros)) == 0


def test_fit_gaussian_needs_two_samples():
    with pytest.raises(ValueError, match="N >= 2"):
        fit_gaussian(np.zeros((1, 32)))


def test_diversity():
    base = random_poses(3)
    same = np.stack([base] * 4)
    np.testing.assert_array_equal(diversity(same), 0)
    offset = np.stack([base, base + np.array([0.0, 7.0])[:, None]])  # two samples 7 px apart
    np.testing.assert_allclose(diversity(offset), 7.0)
    # three samples at 0, 3, 6 px: pairs 3, 6, 3 -> mean 4
    three = np.stack([base + np.array([d, 0.0])[:, None] for d in (0.0, 3.0, 6.0)])
    np.testing.assert_allclose(diversity(three), 4.0)
    with pytest.raises(ValueError, match="K >= 2"):
        diversity(same[:1])


def test_pck():
    true = random_poses()
    np.testing.assert_array_equal(pck(true, true), 1.0)
    np.testing.assert_array_equal(pck(true + 1e5, true), 0.0)
    # a box 100 wide and 50 high: reference 0.2 * 100 = 20 px; points 10 px off count, 30 px off do not
    box = np.zeros((1, 64, 2, 121))
    box[..., 0, 1], box[..., 1, 2] = 100.0, 50.0
    pred = box.copy()
    pred[..., 0, :60] += 10.0
    pred[..., 0, 60:] += 30.0
    np.testing.assert_allclose(pck(pred, box), [60 / 121])
    np.testing.assert_allclose(pck(pred, box, threshold=0.5), [1.0])


def beating(beat_frames, n=64, fps=15):
    """One clip [n, 2, 121] whose points all move along x with speed |t - b| / fps around each beat frame b: the mean
    keypoint speed has its local minima exactly at the given frames."""
    t = np.arange(n, dtype=np.float64)
    speed = np.min(np.abs(t[:, None] - np.asarray(beat_frames)[None, :]), axis=1) + 0.5  # px per frame, > 0
    x = np.concatenate([[0.0], np.cumsum(speed[1:] + speed[:-1]) / 2])  # position whose derivative ~ speed
    pose = np.zeros((n, 2, 121))
    pose[:, 0, :] = x[:, None] + np.arange(121)
    return pose


def test_mean_speed_of_a_uniform_motion():
    pose = np.zeros((2, 10, 2, 121))
    pose[..., 0, :] = 3.0 * np.arange(10)[:, None]  # 3 px per frame along x
    pose[..., 1, :] = 4.0 * np.arange(10)[:, None]  # and 4 along y: 5 px per frame = 75 px/s at 15 fps
    np.testing.assert_allclose(mean_speed(pose, fps=15), 75.0)


def test_motion_beats_are_the_local_minima_of_the_speed():
    np.testing.assert_array_equal(motion_beats(beating([10, 30, 50])), [10, 30, 50])
    assert len(motion_beats(np.zeros((64, 2, 121)))) == 0  # a still pose has no beats
    # two minima 3 frames apart: each is within the other's window of 3 frames, so neither is a beat; a window
    # of 1 frame finds both
    assert len(motion_beats(beating([20, 23]), window=3)) == 0
    np.testing.assert_array_equal(motion_beats(beating([20, 23]), window=1), [20, 23])


def test_beat_alignment_by_hand():
    assert beat_alignment([1.0, 2.0], [1.0, 2.0]) == 1.0  # a motion beat on every onset
    assert beat_alignment([1.0, 2.0], [1.0, 2.0, 3.5]) == 1.0  # extra motion beats cost nothing
    assert beat_alignment([1.0], [4.0]) == pytest.approx(np.exp(-9 / (2 * 0.09)))  # 3 s away: ~1e-22
    assert beat_alignment([1.0], [4.0]) < 1e-20
    assert beat_alignment([1.0, 2.0], [1.3]) == pytest.approx((np.exp(-0.5) + np.exp(-0.49 / 0.18)) / 2)
    assert beat_alignment([1.0], []) == 0.0  # no motion beat at all
    assert np.isnan(beat_alignment([], [1.0]))  # no onset: nothing to align to


def test_beat_consistency_of_hand_made_clips():
    fps = 15
    onsets = [np.array([10, 30, 50]) / fps, np.array([5, 15]) / fps]
    on_time = beating([10, 30, 50])
    far = beating([55])  # one motion beat, 3.3 and 2.7 s after the onsets
    near = beating([12, 30, 47])  # 2 and 3 frames off at two onsets
    bc = beat_consistency(np.stack([on_time, far, near]), [*onsets, onsets[0]], fps=fps)
    assert bc[0] == pytest.approx(1.0)
    assert bc[1] == pytest.approx(np.mean(np.exp(-((np.array([50, 40]) / fps) ** 2) / 0.18))) and bc[1] < 1e-10
    assert bc[2] == pytest.approx(np.mean(np.exp(-((np.array([2, 0, 3]) / fps) ** 2) / 0.18)))
    with pytest.raises(ValueError, match="onsets"):
        beat_consistency(np.stack([on_time]), onsets)


def test_audio_onsets_find_noise_bursts():
    """librosa's onset detector (EMAGE's call) on three decaying noise bursts over quiet noise: an onset near each
    burst and none elsewhere (a burst may give two onsets one 32 ms frame apart)."""
    rate, rng = 16000, np.random.default_rng(0)
    audio = (0.001 * rng.standard_normal(rate * 3)).astype(np.float32)
    bursts = np.array([0.5, 1.5, 2.2])
    for start in (bursts * rate).astype(int):
        audio[start:start + 3200] += (0.5 * rng.standard_normal(3200) * np.exp(-np.arange(3200) / 800))
    found = audio_onsets(audio, rate)
    gap = np.abs(found[:, None] - bursts[None, :])  # [found, bursts] s
    assert (gap.min(axis=0) < 0.05).all() and (gap.min(axis=1) < 0.07).all()


def test_l1_diversity():
    poses = np.zeros((2, 4, 2, 121))
    assert l1_diversity(poses) == 0  # never moves
    poses[0, :, 0] = 3.0  # clip 0 at x = 3, clip 1 at x = 0: mean x 1.5, every point 1.5 px off in x
    poses[1, :, 1] = 4.0  # clip 1 at y = 4: mean y 2, every point 2 px off in y
    assert l1_diversity(poses) == pytest.approx(1.5 + 2.0)
