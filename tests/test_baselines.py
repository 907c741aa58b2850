"""The Table 2 baselines' audio input: the MFCCs of Audio to Body Dynamics (sdt/audio.py)."""

import numpy as np
import pytest
import torch
from signals import speechlike

from sdt.audio import MFCC, deltas, pose_frame_count, pose_rate_pooling

CLIP = 68266  # samples of one 64-frame clip (SDT_SPEC 2.6)
N_MEL = 427  # its mel frames (SDT_SPEC 3)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny LSTMs run fastest on one thread, and this machine's 2 cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- MFCC


def test_mfcc_equals_librosa_features_pooled_to_the_pose_frames():
    import librosa

    wav = speechlike(CLIP)
    got = MFCC()(torch.from_numpy(wav)[None])[0].numpy()
    assert got.shape == (28, 64)
    mel = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80,
                                         fmin=55, fmax=7500, htk=True, norm=None, power=2.0, center=True,
                                         pad_mode="reflect")
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13)  # DCT-II ortho, no lifter
    rms = librosa.feature.rms(y=wav, frame_length=400, hop_length=160, center=True, pad_mode="reflect")
    static = np.concatenate([mfcc, librosa.power_to_db(rms**2, top_db=None)])  # [14, 427]
    full = np.concatenate([static, librosa.feature.delta(static, width=5, order=1, mode="nearest")])
    assert full.shape == (28, N_MEL)
    # pose frame k (time stamp k/15 s) = mean of the 10 ms frames centred within 1/30 s of it, in float seconds
    centres = np.arange(N_MEL) * 0.01
    want = np.stack([full[:, (centres >= (k - 0.5) / 15 - 1e-9) & (centres < (k + 0.5) / 15 - 1e-9)].mean(axis=1)
                     for k in range(64)], axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def test_deltas_equal_librosa_at_the_edges_too():
    import librosa

    x = np.random.default_rng(1).standard_normal((3, 5, 40)).astype(np.float32)
    for n in (1, 2, 4):
        want = librosa.feature.delta(x, width=2 * n + 1, order=1, mode="nearest")
        np.testing.assert_allclose(deltas(torch.from_numpy(x), n).numpy(), want, rtol=0, atol=1e-5)
    slope = deltas(torch.arange(10.0) * 3)  # a ramp of 3 per frame, continued flat past its ends
    torch.testing.assert_close(slope[2:-2], torch.full((6,), 3.0))
    assert slope[0] == pytest.approx(3 * 5 / 10)  # (1 * (3 - 0) + 2 * (6 - 0)) / (2 * (1 + 4))


def test_pose_frames_tile_the_audio_frames():
    assert pose_frame_count(CLIP) == 64 and pose_frame_count((N_MEL - 1) * 160 + 1) == 64
    assert pose_frame_count(16000) == 15 and pose_frame_count(16001) == 16  # frame 15 is at 1 s = sample 16000
    pool = pose_rate_pooling(N_MEL, 64).numpy()  # [427, 64]
    members = pool > 0
    assert (members.sum(axis=1) <= 1).all()  # no audio frame in two pose frames
    counts = members.sum(axis=0)
    assert counts[0] == 4 and set(counts[1:]) == {6, 7}  # frame 0: audio frames 0-3 (t < 1/30 s)
    np.testing.assert_allclose(pool.sum(axis=0), 1, rtol=1e-6)  # averages
    assert members[:424].any(axis=1).all() and not members[424:].any()  # frame 63: audio frames 417-423
    with pytest.raises(ValueError, match="too short"):
        pose_rate_pooling(96, 16)  # frame 15 (1 s) needs the audio frames centred from 0.967 s (97) on


def test_mfcc_frame_alignment_with_the_poses():
    """A 1 kHz burst that sounds exactly during pose frame k's 1/15 s shows in the log energy of frame k."""
    rng = np.random.default_rng(2)
    wav = 1e-3 * rng.standard_normal(CLIP).astype(np.float32)
    for k in (0, 17, 63):
        burst = wav.copy()
        start, stop = max(0, round((k - 0.5) * 16000 / 15)), round((k + 0.5) * 16000 / 15)
        burst[start:stop] += np.sin(2 * np.pi * 1000 * np.arange(stop - start) / 16000).astype(np.float32)
        energy = MFCC()(torch.from_numpy(burst))[13].numpy()  # [64] log energy, dB
        assert int(np.argmax(energy)) == k
        quiet = np.delete(energy, [i for i in (k - 1, k, k + 1) if 0 <= i < 64])  # 25 ms windows overlap
        assert energy[k] > quiet.max() + 30
    assert MFCC()(torch.zeros(2, 16000)).shape == (2, 28, 15)  # 1 s: frames at 0 .. 14/15 s
