"""Audio features of SDT_SPEC 3.

The release feeds its generator ``torchaudio.transforms.MelSpectrogram(win_length=400, hop_length=160,
n_fft=512, f_min=55, f_max=7500, n_mels=80)`` at 16 kHz (power 2, centred frames with reflect padding, HTK mel
scale, no filter normalisation, no log).  torchaudio does not load here, so this is the same computation on
``torch.stft``.
"""

import numpy as np
import torch

from sdt.constants import AUDIO_RATE


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)  # HTK mel scale


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate=AUDIO_RATE, n_fft=512, n_mels=80, f_min=55.0, f_max=7500.0):
    """Triangular HTK-mel filters without normalisation -> [n_fft // 2 + 1, n_mels] float32 (torchaudio's
    ``melscale_fbanks`` layout; the transpose of ``librosa.filters.mel(..., htk=True, norm=None)``).

    Computed here in float64 rather than taken from librosa: librosa's first call in a process costs seconds
    (numba), and this is what every training and evaluation process builds once."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)  # [F] centre frequency of each FFT bin
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))  # [M + 2]
    width = np.diff(edges)  # [M + 1]
    rel = edges[None, :] - freqs[:, None]  # [F, M + 2]
    rising = -rel[:, :-2] / width[:-1]  # [F, M] from each filter's lower edge up to its centre
    falling = rel[:, 2:] / width[1:]  # [F, M] from its centre down to its upper edge
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


class MelSpectrogram(torch.nn.Module):
    """wav [..., S] 16 kHz -> mel power spectrogram [..., n_mels, 1 + S // hop] (no log).

    A 68266-sample clip (64 frames at 15 fps) gives [80, 427].  The Hann window (periodic, ``win_length``
    samples, centred in ``n_fft``) and the filterbank [n_fft // 2 + 1, n_mels] are non-persistent buffers:
    they follow ``.to(device)`` but stay out of state dicts (the release's ``mel_transfm.*`` keys hold the
    same constants, ``spectrogram.window`` and ``mel_scale.fb``)."""

    def __init__(self, sample_rate=AUDIO_RATE, n_fft=512, win_length=400, hop_length=160, f_min=55.0,
                 f_max=7500.0, n_mels=80):
        super().__init__()
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)

    def forward(self, wav):
        lead = wav.shape[:-1]
        x = wav.reshape(-1, wav.shape[-1]).to(self.window.dtype)  # [B, S]
        spec = torch.stft(x, self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window, center=True, pad_mode="reflect", normalized=False,
                          onesided=True, return_complex=True)  # [B, F, T]
        power = spec.real.square() + spec.imag.square()  # |X|^2
        mel = torch.matmul(self.fb.T, power)  # [B, n_mels, T]
        return mel.reshape(*lead, *mel.shape[-2:])
