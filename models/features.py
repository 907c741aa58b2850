"""Audio features of docs/dataset.md §15.

The release feeds its generator ``torchaudio.transforms.MelSpectrogram(win_length=400, hop_length=160,
n_fft=512, f_min=55, f_max=7500, n_mels=80)`` at 16 kHz (power 2, centred frames with reflect padding, HTK mel
scale, no filter normalisation, no log).  torchaudio does not load here, so this is the same computation on
``torch.stft``.

:class:`MFCC` is the 28-channel input of the Audio to Body Dynamics baseline (Shlizerman et al., CVPR 2018),
resampled to the pose frame rate by :func:`pose_rate_pooling`, which MoGlow's mel input shares.
"""

import numpy as np
import torch

from models.contract import AUDIO_RATE, FPS


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



def power_to_db(power, amin=1e-10):
    """10 log10(max(power, amin)): librosa's ``power_to_db(ref=1, top_db=None)``.  No ``top_db`` clipping: it
    is relative to the loudest bin of the whole input, so a frame's value would depend on the rest of the clip."""
    return 10.0 * torch.log10(power.clamp_min(amin))


def dct_matrix(n_in, n_out):
    """Orthonormal DCT-II basis [n_in, n_out] (scipy's ``dct(type=2, norm="ortho")``, as librosa's MFCC):
    ``x [..., n_in] @ D`` gives the first n_out coefficients."""
    n, k = np.arange(n_in)[:, None], np.arange(n_out)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[:, 0] /= np.sqrt(2.0)
    return torch.from_numpy(basis.astype(np.float32))


def frame_log_energy(wav, win_length=400, hop_length=160, amin=1e-10):
    """wav [B, S] -> log mean energy in dB [B, 1 + S // hop]: 10 log10 of the mean square of the ``win_length``
    samples centred on each frame (rectangular window, reflect padding at the ends), the frames of
    :class:`MelSpectrogram`.  ``librosa.feature.rms(center=True, pad_mode="reflect")`` squared, in dB."""
    pad = win_length // 2
    x = torch.nn.functional.pad(wav[:, None], (pad, pad), mode="reflect")[:, 0]  # [B, S + 2 pad]
    frames = x.unfold(-1, win_length, hop_length)  # [B, T, win_length]
    return power_to_db(frames.square().mean(dim=-1), amin)


def deltas(x, n=2):
    """Regression deltas over +-n frames along the last axis (HTK's formula; edge frames repeated):
    ``d_t = sum_k k (x_{t+k} - x_{t-k}) / (2 sum_k k^2)``.  = ``librosa.feature.delta(width=2n+1, mode="nearest")``."""
    lead = x.shape[:-1]
    flat = x.reshape(-1, 1, x.shape[-1])  # [N, 1, T]
    k = torch.arange(-n, n + 1, dtype=x.dtype, device=x.device)
    kernel = (k / k.square().sum()).view(1, 1, -1)  # conv1d correlates: out_t = sum_k kernel_k x_{t+k}
    out = torch.nn.functional.conv1d(torch.nn.functional.pad(flat, (n, n), mode="replicate"), kernel)
    return out.reshape(*lead, x.shape[-1])


def pose_frame_count(n_samples, sample_rate=AUDIO_RATE, fps=FPS):
    """Pose frames whose time stamp k / fps falls on one of ``n_samples`` samples: 68266 -> 64, 16000 -> 15.
    From a spectrogram of M centred frames, pass ``(M - 1) * hop + 1`` (427 mel frames -> 64)."""
    return (n_samples - 1) * int(fps) // sample_rate + 1


def pose_rate_pooling(n_audio_frames, n_frames, hop_length=160, sample_rate=AUDIO_RATE, fps=FPS):
    """Averaging matrix [n_audio_frames, n_frames]: ``features [..., C, T_audio] @ A`` -> [..., C, n_frames].

    Pose frame k is the image taken at k / fps s (a clip's audio starts with its first frame, docs/dataset.md §11);
    it gets the mean of the audio frames (centred at t * hop / sr s) in [(k - 1/2) / fps, (k + 1/2) / fps): the
    1/fps s of sound around its time stamp, 6-7 frames of 10 ms at 15 fps, 4 for frame 0 (half its window
    precedes the clip).  The test is done in integers, ``(2k - 1) sr <= 2 t hop fps < (2k + 1) sr``, so that no
    audio frame falls between two windows or into both."""
    if int(fps) != fps:
        raise ValueError(f"fps must be a whole number, got {fps}")
    t2 = 2 * np.arange(n_audio_frames)[:, None] * hop_length * int(fps)  # [T_audio, 1]
    k = np.arange(n_frames)[None, :]  # [1, n_frames]
    inside = ((2 * k - 1) * sample_rate <= t2) & (t2 < (2 * k + 1) * sample_rate)  # [T_audio, n_frames]
    counts = inside.sum(axis=0)
    if (counts == 0).any():
        raise ValueError(f"{n_audio_frames} audio frames do not reach pose frame {int(np.argmin(counts))} of "
                         f"{n_frames}: the audio is too short")
    return torch.from_numpy((inside / counts).astype(np.float32))


class MFCC(torch.nn.Module):
    """wav [..., S] 16 kHz -> [..., 28, n_frames]: the audio input of Audio to Body Dynamics at the pose rate.

    Shlizerman et al. (CVPR 2018) feed MFCCs with the log mean energy and the first temporal derivatives of
    both: 13 MFCCs + 1 log energy = 14 static channels and their deltas = 28.  Channel order:
    MFCC 0-12, log energy, delta MFCC 0-12, delta log energy.  Choices where the paper says no more:

    - spectrum: SDT's own mel power spectrogram (:class:`MelSpectrogram`: 25 ms Hann window, 10 ms hop, 80 HTK
      mels in 55-7500 Hz), so the baseline hears exactly what SDT hears;
    - MFCC = orthonormal DCT-II of the mel power in dB, first 13 (c0 included, no liftering): librosa's
      ``feature.mfcc(S=power_to_db(mel, top_db=None), n_mfcc=13)``;
    - log mean energy = dB of the mean square of the 400 samples of each frame (:func:`frame_log_energy`);
      it carries loudness separately from c0, which measures the mel bands' mean dB;
    - deltas: HTK's regression over +-2 frames (20 ms) at the 10 ms rate (:func:`deltas`), before resampling;
    - pose rate: each pose frame averages the 10 ms frames of its 1/15 s (:func:`pose_rate_pooling`).

    Features are not normalised here: the network standardises them with statistics of its training set.
    A 68266-sample clip gives [28, 64]; ``n_frames`` (default :func:`pose_frame_count`) can ask for fewer.
    """

    def __init__(self, n_mfcc=13, delta_n=2, sample_rate=AUDIO_RATE, fps=FPS, n_fft=512, win_length=400,
                 hop_length=160, f_min=55.0, f_max=7500.0, n_mels=80):
        super().__init__()
        self.delta_n, self.sample_rate, self.fps = delta_n, sample_rate, fps
        self.win_length, self.hop_length = win_length, hop_length
        self.mel = MelSpectrogram(sample_rate, n_fft, win_length, hop_length, f_min, f_max, n_mels)
        self.register_buffer("dct", dct_matrix(n_mels, n_mfcc), persistent=False)  # [n_mels, n_mfcc]
        self.n_channels = 2 * (n_mfcc + 1)

    def forward(self, wav, n_frames=None):
        lead = wav.shape[:-1]
        x = wav.reshape(-1, wav.shape[-1]).to(self.dct.dtype)  # [B, S]
        mel_db = power_to_db(self.mel(x))  # [B, n_mels, T]
        cepstra = (mel_db.transpose(1, 2) @ self.dct).transpose(1, 2)  # [B, n_mfcc, T]
        energy = frame_log_energy(x, self.win_length, self.hop_length)[:, None]  # [B, 1, T]
        static = torch.cat([cepstra, energy], dim=1)  # [B, 14, T]
        feats = torch.cat([static, deltas(static, self.delta_n)], dim=1)  # [B, 28, T]
        if n_frames is None:
            n_frames = pose_frame_count(wav.shape[-1], self.sample_rate, self.fps)
        pool = pose_rate_pooling(feats.shape[-1], n_frames, self.hop_length, self.sample_rate, self.fps)
        out = feats @ pool.to(feats.device)  # [B, 28, n_frames]
        return out.reshape(*lead, *out.shape[-2:])
