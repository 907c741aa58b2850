"""Mel spectrogram (docs/dataset.md §15) against librosa, and audio loading."""

import numpy as np
import torch
from signals import speechlike

from models.features import MelSpectrogram, mel_filterbank

CLIP = 68266  # int(64 * 16000 / 15) samples: one 64-frame clip
MEL_ARGS = dict(sr=16000, n_fft=512, n_mels=80, fmin=55, fmax=7500, htk=True, norm=None)


def test_filterbank_equals_librosa():
    import librosa

    want = librosa.filters.mel(**MEL_ARGS)  # [80, 257]
    got = mel_filterbank()
    assert got.shape == (257, 80) and got.dtype == np.float32
    np.testing.assert_allclose(got.T, want, rtol=0, atol=1e-6)


def test_matches_librosa_melspectrogram():
    import librosa

    wav = speechlike(CLIP)
    want = librosa.feature.melspectrogram(y=wav, win_length=400, hop_length=160, power=2.0, center=True,
                                          pad_mode="reflect", **MEL_ARGS)
    got = MelSpectrogram()(torch.from_numpy(wav)[None])[0].numpy()
    assert got.shape == want.shape == (80, 427)
    assert np.abs(got - want).max() <= 1e-4 * want.max()
    assert (got >= 0).all() and want.max() > 1  # power, no log


def test_shapes_and_batching():
    mel = MelSpectrogram()
    wav = torch.from_numpy(np.stack([speechlike(CLIP, seed=s) for s in range(3)]))
    batch = mel(wav)
    assert batch.shape == (3, 80, 427)
    for i in range(3):
        torch.testing.assert_close(batch[i], mel(wav[i]), rtol=1e-5, atol=1e-6)  # [S] -> [80, T] too
    assert mel(wav[:, :16000]).shape == (3, 80, 101)
    assert mel(wav.double()).dtype == torch.float32


def test_buffers_move_but_stay_out_of_state_dict():
    mel = MelSpectrogram()
    assert set(dict(mel.named_buffers())) == {"window", "fb"}
    assert mel.state_dict() == {}
    assert mel.window.shape == (400,) and torch.equal(mel.window, torch.hann_window(400, periodic=True))
