"""sdt/train/data.py: batches from the packed, memory-mapped clip arrays (shapes, the pose transforms and their inverse)
and the epoch batch order that a resumed run relies on; the synthetic clip set the training tests use."""

import numpy as np
import pytest
import torch
from synthetic import synthetic_clips

from models.features import MelSpectrogram
from sdt import layout
from sdt.poses import denormalise, load_stats, stats_for, to_121, to_global
from sdt.train.data import ClipBatches, EpochBatchSampler, batch_loader

N_TRAIN, N_DEV = 12, 3


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return synthetic_clips(tmp_path_factory.mktemp("clips"), n_train=N_TRAIN, n_dev=N_DEV, seed=3)


@pytest.fixture(scope="module")
def stats(clips):
    return load_stats(clips["stats"])


def test_synthetic_clips_follow_the_packed_layout(clips, stats, tmp_path):
    poses, audio = np.load(clips["train_poses"], mmap_mode="r"), np.load(clips["train_audio"], mmap_mode="r")
    assert poses.shape == (N_TRAIN, 64, 3, layout.N_137) and poses.dtype == np.float32
    assert audio.shape == (N_TRAIN, 68266) and audio.dtype == np.float32
    assert np.load(clips["dev_poses"]).shape[0] == N_DEV == np.load(clips["dev_audio"]).shape[0]
    assert (poses[..., 2, :] == 1).all() and (np.abs(poses[..., :2, :]) > 5).all()  # every point detected
    assert stats["n_train_clips"] == N_TRAIN
    again = synthetic_clips(tmp_path, N_TRAIN, N_DEV, seed=3)
    assert np.array_equal(np.load(again["train_audio"]), audio)  # the seed fixes the set
    assert np.array_equal(np.load(again["dev_poses"]), np.load(clips["dev_poses"]))


def test_synthetic_pose_follows_the_loudness(clips):
    """The premise of the learning tests: each frame's pose is a function of that frame's loudness."""
    audio = torch.from_numpy(np.load(clips["train_audio"]))
    loud = MelSpectrogram()(audio).sum(dim=1)  # [N, 427] mel power per 10 ms hop
    loud = torch.nn.functional.interpolate(loud[:, None], size=64, mode="area")[:, 0].sqrt().numpy()  # [N, 64]
    wrist = to_121(np.load(clips["train_poses"]))[..., 0, 3]  # [N, 64] right wrist x, neck-relative
    r = [abs(np.corrcoef(a, w)[0, 1]) for a, w in zip(loud, wrist, strict=True)]
    assert min(r) > 0.9


def test_a_batch_has_the_documented_shapes(clips, stats):
    data = ClipBatches(clips["train_poses"], clips["train_audio"], stats)
    assert len(data) == N_TRAIN and isinstance(data.poses, np.memmap)  # read lazily, never loaded whole
    batch = data[[7, 2, 5]]
    assert batch["audio"].shape == (3, 68266) and batch["audio"].dtype == torch.float32
    assert batch["poses"].shape == (3, 64, 2, 121) and batch["poses"].dtype == torch.float32
    assert batch["index"].tolist() == [2, 5, 7]  # sorted: sequential reads of the memory map
    assert torch.equal(batch["audio"], torch.from_numpy(np.load(clips["train_audio"])[[2, 5, 7]]))


@pytest.mark.parametrize("parted", [True, False])
def test_denormalising_a_batch_gives_back_the_clips(clips, stats, parted):
    """137 -> 121 -> (parted) -> normalised, undone with the same statistics, is the neck-relative clip."""
    batch = ClipBatches(clips["dev_poses"], clips["dev_audio"], stats, parted)[[0, 1, 2]]
    back = denormalise(batch["poses"], *stats_for(stats, parted))
    if parted:
        back = to_global(back)
    want = to_121(torch.from_numpy(np.load(clips["dev_poses"])))
    torch.testing.assert_close(back, want, atol=2e-4, rtol=1e-5)
    train = ClipBatches(clips["train_poses"], clips["train_audio"], stats, parted)[list(range(N_TRAIN))]["poses"]
    assert train.mean(dim=(0, 1)).abs().max() < 1e-3  # the statistics are the training split's own
    assert (train.std(dim=(0, 1)) - 1).abs().max() < 0.1


def test_clip_arrays_of_different_lengths_are_refused(clips, stats):
    with pytest.raises(ValueError, match="different numbers of clips"):
        ClipBatches(clips["train_poses"], clips["dev_audio"], stats)


def test_epoch_batches_depend_only_on_seed_and_epoch():
    def batches(seed, epoch, **kw):
        s = EpochBatchSampler(10, 4, seed, **kw)
        s.set_epoch(epoch)
        return list(s)

    first = batches(0, 1)
    assert [len(b) for b in first] == [4, 4, 2] and len(EpochBatchSampler(10, 4, 0)) == 3
    assert sorted(i for b in first for i in b) == list(range(10))  # every clip once per epoch
    assert batches(0, 1) == first  # a resumed run sees the same batches
    assert batches(0, 2) != first and batches(1, 1) != first
    assert batches(0, 7, shuffle=False) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches(0, 1, max_batches=2) == first[:2]
    assert batches(0, 1, drop_last=True) == first[:2]
    assert batches(0, 1, drop_last=True, max_batches=1) == first[:1]
    assert list(EpochBatchSampler(3, 4, 0, drop_last=True)) != []  # never drops a split's only batch


@pytest.mark.parametrize("n", [10, 11, 37])
def test_processes_share_out_the_global_batches(n):
    """Process r of N takes every N-th clip of the epoch's order: together, step k of N processes at B / N is step k
    of one process at B (what makes a distributed run equal to a single-process one)."""
    def batches(epoch, **kw):
        s = EpochBatchSampler(n, 4, seed=3, drop_last=True, **kw)
        s.set_epoch(epoch)
        return list(s)

    for epoch in (1, 2):
        single = batches(epoch)
        ranks = [batches(epoch, rank=r, world=2) for r in range(2)]
        assert len(single) == n // 4 and [len(r) for r in ranks] == [len(single)] * 2  # last partial batch dropped
        for k, batch in enumerate(single):
            assert sorted(ranks[0][k] + ranks[1][k]) == sorted(batch) and not set(ranks[0][k]) & set(ranks[1][k])
    with pytest.raises(ValueError, match="batch_size 4 cannot be split evenly over 3 processes"):
        EpochBatchSampler(n, 4, seed=0, rank=0, world=3)


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_yields_the_sampler_batches(clips, stats, workers):
    data = ClipBatches(clips["train_poses"], clips["train_audio"], stats)
    sampler = EpochBatchSampler(N_TRAIN, 5, seed=4)
    sampler.set_epoch(3)
    got = list(batch_loader(data, sampler, num_workers=workers))
    assert [b["index"].tolist() for b in got] == [sorted(b) for b in sampler]
    for batch in got:
        torch.testing.assert_close(batch["poses"], data[batch["index"].tolist()]["poses"], rtol=0, atol=0)
