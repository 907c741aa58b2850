"""MoGlow (Henter, Alexanderson, Beskow, "MoGlow: Probabilistic and controllable motion synthesis using
normalising flows", ACM TOG 2020) as the Speech Drives Templates paper ran it as a baseline (Qian et al.,
ICCV 2021, Table 2; docs/networks.md §2): mel-spectrogram input, H = 800, K = 12, poses of 121 2D points.

A conditional normalising flow over each frame's pose x_t (242 = 2 x 121 normalised values, x row then y
row, as the generator's output), built from Glow's steps (Kingma & Dhariwal 2018): ActNorm with data-dependent
initialisation, an invertible 1x1 convolution (LU-decomposed), and an affine coupling whose network is an
LSTM.  Everything below that SDT does not state follows MoGlow and its authors' gesture code
(simonalexanderson/StyleGestures: ``glow/modules.py``, ``glow/models.py``, ``motion/datasets/motion_data.py``,
``glow/generator.py``, ``hparams/paper_version/style_gestures.json``; read, not copied):

- coupling network: a 2-layer LSTM (StyleGestures' FlowNet always builds 2) with H units, then a linear
  layer initialised to zero; its input is the pass-through half x_a (the first 121 values) and the
  conditioning; outputs interleaved as (shift, raw scale); scale = sigmoid(raw + 2) + 1e-6 (Glow's code);
  y_b = (x_b + shift) * scale; log-determinant = sum(log scale).
- ActNorm: per-channel bias and log-scale, set on the first training batch so that its output has zero mean
  and unit variance over batch and frames (Glow), then trained.  1x1 convolution: a random rotation,
  LU-decomposed, W = P L (U + diag(sign(s) exp(log s))), log-determinant = sum(log s) per frame.
- conditioning of frame t: the previous ``n_prev`` = 5 poses (StyleGestures' seqlen 5) and the audio frames
  t - 5 .. t + 15 (StyleGestures: control frames t - seqlen .. t + n_lookahead, 20 frames = 1 s of look-ahead
  at 20 fps; 15 frames = 1 s here).  Audio: SDT's 80-band mel power spectrogram (427 frames of 10 ms for 64
  pose frames) in dB, averaged to the pose rate (``models.features.pose_rate_pooling``: frame t gets the 10 ms
  frames within 1/30 s of its time stamp t/15 s, the same mapping as the Audio2Body MFCCs) and standardised
  per band with training statistics (``fit_input_stats``); 21 frames x 80 bands = 1680 values.
- data dropout (MoGlow's remedy for a model that ignores its control input; StyleGestures' gesture model:
  0.4): while training, each previous pose of each frame's conditioning is zeroed with probability
  ``pose_dropout``, so that the model listens to the audio.
- how a clip starts, the same in training and sampling: the poses before frame 0 are zeros (the mean pose in
  normalised space; StyleGestures' sampler starts from zeros: "initialize from a mean pose"), and audio
  frames outside the clip are zeros (the training mean); every coupling LSTM starts each clip from a zero
  state and carries it over the clip's frames in order.  Training runs each step's LSTM over the whole clip
  at once; sampling runs the same LSTMs one frame at a time, so both see the same state at every frame.
  (StyleGestures trains on windows whose first 5 frames seed the history with real poses yet samples from
  zeros; training from zeros too removes that mismatch, and a 64-frame clip has no frames to spare.)
- likelihood: z ~ N(0, I) per frame; z_t depends on x_1..x_t only, so the Jacobian of the whole clip is
  block lower-triangular and log p(x) = sum_t [log N(z_t) + logdet_t].  :func:`moglow_nll` is in nats per
  pose value (StyleGestures logs bits per frame: multiply by 242 / ln 2).
- sampling: z_t = temperature x N(0, I) (StyleGestures' eps_std), inverted frame by frame.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.blocks import Standardize
from models.contract import AUDIO_RATE, FPS, N_121
from models.features import pose_frame_count, pose_rate_pooling, power_to_db


@dataclass
class MoGlowConfig:
    n_points: int = N_121  # keypoints per frame; the flow is over 2 * n_points values
    n_mels: int = 80  # mel bands of the input (docs/dataset.md §15)
    hidden: int = 800  # LSTM units of each coupling network (SDT)
    n_lstm_layers: int = 2  # LSTM layers of each coupling network (StyleGestures)
    n_steps: int = 12  # K flow steps (SDT; StyleGestures 16)
    n_prev: int = 5  # previous poses in each frame's conditioning (StyleGestures' seqlen)
    mel_past: int = 5  # pose-rate audio frames before t in the conditioning window
    mel_future: int = 15  # and after t: 1 s of look-ahead (StyleGestures' n_lookahead, 1 s at 20 fps)
    pose_dropout: float = 0.4  # training-time dropout of previous poses (StyleGestures' gesture model)
    fps: int = FPS  # pose frames per second
    mel_hop: int = 160  # samples between mel frames (docs/dataset.md §15)
    sample_rate: int = AUDIO_RATE

    def __post_init__(self):
        if min(self.n_points, self.n_mels, self.hidden, self.n_lstm_layers, self.n_steps) < 1:
            raise ValueError(f"MoGlowConfig sizes must be >= 1, got {self}")
        if min(self.n_prev, self.mel_past, self.mel_future) < 0:
            raise ValueError(f"MoGlowConfig context lengths must be >= 0, got {self}")
        if not 0 <= self.pose_dropout < 1:
            raise ValueError(f"MoGlowConfig.pose_dropout must be in [0, 1), got {self.pose_dropout}")

    @property
    def dim(self):
        return 2 * self.n_points

    @property
    def cond_dim(self):
        return self.n_prev * self.dim + self.n_mels * (self.mel_past + 1 + self.mel_future)


class ActNorm(nn.Module):
    """x [B, T, D] -> (x + bias) * exp(log_scale), log-determinant sum(log_scale) per frame.

    The first training-mode forward sets bias and log_scale so that its output has zero mean and unit variance
    per channel over batch and frames (Glow's data-dependent initialisation); ``initialized`` is a persistent
    buffer, so a loaded checkpoint is not initialised again."""

    def __init__(self, dim):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x):
        flat = x.reshape(-1, x.shape[-1])  # (B T, D)
        self.bias.copy_(-flat.mean(dim=0))
        self.log_scale.copy_(-torch.log(flat.std(dim=0, unbiased=False) + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x):
        if self.training and not self.initialized:
            self.initialize(x)
        return (x + self.bias) * self.log_scale.exp(), self.log_scale.sum().expand(x.shape[:2])

    def inverse(self, y):
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv1x1(nn.Module):
    """x [B, T, D] -> x W^T with W = P L (U + diag(sign_s exp(log_s))) (Glow's LU-decomposed 1x1 convolution).

    Starts from a random rotation.  P and sign_s are fixed buffers; the strict triangles of L and U and log_s
    are the parameters (D^2 in all, as many as a full W).  Log-determinant per frame: sum(log_s)."""

    def __init__(self, dim):
        super().__init__()
        w = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64))[0]
        perm, lower, upper = torch.linalg.lu(w)
        s = upper.diagonal()
        self.register_buffer("perm", perm.float())
        self.register_buffer("sign_s", s.sign().float())
        self.register_buffer("tril", torch.tril_indices(dim, dim, -1), persistent=False)  # (2, D(D-1)/2)
        self.lower = nn.Parameter(lower[self.tril[0], self.tril[1]].float())
        self.upper = nn.Parameter(upper[self.tril[1], self.tril[0]].float())  # U's strict upper triangle
        self.log_s = nn.Parameter(s.abs().log().float())

    def factors(self):
        eye = torch.eye(len(self.log_s), dtype=self.log_s.dtype, device=self.log_s.device)
        lower = eye.index_put((self.tril[0], self.tril[1]), self.lower)  # unit lower triangular
        upper = torch.diag(self.sign_s * self.log_s.exp()).index_put((self.tril[1], self.tril[0]), self.upper)
        return lower, upper

    def forward(self, x):
        lower, upper = self.factors()
        w = self.perm @ lower @ upper  # (D, D)
        return x @ w.T, self.log_s.sum().expand(x.shape[:2])

    def inverse(self, y):
        lower, upper = self.factors()
        cols = (y @ self.perm).reshape(-1, y.shape[-1]).T  # (D, N): P^T y for every frame
        cols = torch.linalg.solve_triangular(lower, cols, upper=False, unitriangular=True)
        cols = torch.linalg.solve_triangular(upper, cols, upper=True)
        return cols.T.reshape(y.shape)


class LSTMAffineCoupling(nn.Module):
    """y = [x_a, (x_b + shift) * scale] with (shift, scale) from an LSTM over [x_a, conditioning].

    forward/inverse take and return the LSTM state (None = zeros), so sampling can go one frame at a time."""

    def __init__(self, dim, cond_dim, hidden, n_layers):
        super().__init__()
        self.n_a = dim // 2
        self.lstm = nn.LSTM(self.n_a + cond_dim, hidden, n_layers, batch_first=True)
        self.out = nn.Linear(hidden, 2 * (dim - self.n_a))
        nn.init.zeros_(self.out.weight)  # Glow: each coupling starts close to the identity
        nn.init.zeros_(self.out.bias)

    def shift_scale(self, x_a, cond, state):  # (B, T, n_a), (B, T, C)
        h, state = self.lstm(torch.cat([x_a, cond], dim=-1), state)  # (B, T, H)
        raw = self.out(h)  # (B, T, 2 n_b): shift and raw scale interleaved
        return raw[..., 0::2], torch.sigmoid(raw[..., 1::2] + 2.0) + 1e-6, state

    def forward(self, x, cond, state=None):
        x_a, x_b = x[..., :self.n_a], x[..., self.n_a:]
        shift, scale, state = self.shift_scale(x_a, cond, state)
        return torch.cat([x_a, (x_b + shift) * scale], dim=-1), scale.log().sum(dim=-1), state

    def inverse(self, y, cond, state=None):
        y_a, y_b = y[..., :self.n_a], y[..., self.n_a:]
        shift, scale, state = self.shift_scale(y_a, cond, state)
        return torch.cat([y_a, y_b / scale - shift], dim=-1), state


class FlowStep(nn.Module):
    """ActNorm -> invertible 1x1 convolution -> LSTM affine coupling, on [B, T, D]."""

    def __init__(self, cfg: MoGlowConfig):
        super().__init__()
        self.actnorm = ActNorm(cfg.dim)
        self.invconv = InvConv1x1(cfg.dim)
        self.coupling = LSTMAffineCoupling(cfg.dim, cfg.cond_dim, cfg.hidden, cfg.n_lstm_layers)

    def forward(self, x, cond, state=None):
        x, logdet_norm = self.actnorm(x)
        x, logdet_conv = self.invconv(x)
        x, logdet_coupling, state = self.coupling(x, cond, state)
        return x, logdet_norm + logdet_conv + logdet_coupling, state  # logdet (B, T)

    def inverse(self, y, cond, state=None):
        y, state = self.coupling.inverse(y, cond, state)
        return self.actnorm.inverse(self.invconv.inverse(y)), state


class MoGlow(nn.Module):
    """forward(poses [B, T, 2, P], mel [B, 80, M]) -> (z [B, T, 2P], logdet [B, T]); inverse(z, mel) -> poses;
    sample(mel, temperature) -> poses; nll(poses, mel) -> scalar, nats per pose value.

    ``mel`` is ``models.features.MelSpectrogram``'s power spectrogram (no log) of the clip, 427 frames for 64 pose
    frames.  Call ``fit_input_stats`` once with training mels before training."""

    def __init__(self, cfg: MoGlowConfig):
        super().__init__()
        self.cfg = cfg
        self.mel_norm = Standardize(cfg.n_mels)
        self.steps = nn.ModuleList(FlowStep(cfg) for _ in range(cfg.n_steps))

    def pose_rate_mel(self, mel, n_frames):
        """mel [B, 80, M] power -> [B, 80, n_frames]: dB, averaged over each pose frame's 10 ms frames."""
        cfg = self.cfg
        pool = pose_rate_pooling(mel.shape[-1], n_frames, cfg.mel_hop, cfg.sample_rate, cfg.fps)
        return power_to_db(mel) @ pool.to(mel)

    def frames_spanned(self, mel):
        """Pose frames whose time stamps fall within the mel frames' centres: 427 -> 64."""
        cfg = self.cfg
        return pose_frame_count((mel.shape[-1] - 1) * cfg.mel_hop + 1, cfg.sample_rate, cfg.fps)

    def fit_input_stats(self, mel):
        """mel [N, 80, M] of training clips: sets the per-band mean and std of the pose-rate dB mel."""
        self.mel_norm.fit(self.pose_rate_mel(mel, self.frames_spanned(mel)))
        return self

    def audio_windows(self, mel, n_frames):
        """-> [B, T, 80 W]: for frame t the standardised pose-rate mel of frames t - mel_past .. t + mel_future
        (zeros outside the clip), oldest first."""
        cfg = self.cfg
        a = self.mel_norm(self.pose_rate_mel(mel, n_frames))  # (B, 80, T)
        a = F.pad(a, (cfg.mel_past, cfg.mel_future))  # (B, 80, T + W - 1)
        win = a.unfold(-1, cfg.mel_past + 1 + cfg.mel_future, 1)  # (B, 80, T, W)
        return win.permute(0, 2, 3, 1).reshape(len(mel), n_frames, -1)  # (B, T, W 80)

    def previous_poses(self, x):
        """x [B, T, D] -> [B, T, n_prev D]: frames t - n_prev .. t - 1, oldest first, zeros before the clip;
        in training each of them is zeroed with probability pose_dropout."""
        n_prev, (b, t, d) = self.cfg.n_prev, x.shape
        if n_prev == 0:
            return x.new_zeros(b, t, 0)
        padded = F.pad(x, (0, 0, n_prev, 0))  # (B, n_prev + T, D)
        prev = padded.unfold(1, n_prev, 1)[:, :t].transpose(2, 3)  # (B, T, n_prev, D)
        if self.training and self.cfg.pose_dropout > 0:
            keep = torch.rand(b, t, n_prev, 1, device=x.device) >= self.cfg.pose_dropout
            prev = prev * keep.to(prev.dtype)
        return prev.reshape(b, t, n_prev * d)

    def forward(self, poses, mel):
        b, t = poses.shape[:2]
        x = poses.reshape(b, t, self.cfg.dim)  # (B, T, D)
        cond = torch.cat([self.previous_poses(x), self.audio_windows(mel, t)], dim=-1)  # (B, T, C)
        logdet = x.new_zeros(b, t)
        for step in self.steps:
            x, step_logdet, _ = step(x, cond)  # the LSTMs run over the whole clip from a zero state
            logdet = logdet + step_logdet
        return x, logdet  # z (B, T, D), logdet (B, T)

    def nll(self, poses, mel):
        return moglow_nll(*self(poses, mel))

    def inverse(self, z, mel):
        """z [B, T, D] -> poses [B, T, 2, P], one frame at a time: frame t's conditioning holds the poses just
        computed for frames t - n_prev .. t - 1, and each coupling LSTM carries its state to frame t + 1."""
        cfg, (b, t, d) = self.cfg, z.shape
        audio = self.audio_windows(mel, t)  # (B, T, 80 W)
        history = z.new_zeros(b, cfg.n_prev, d)  # the poses before frame 0: the mean pose
        states = [None] * len(self.steps)
        frames = []
        for i in range(t):
            cond = torch.cat([history.reshape(b, 1, -1), audio[:, i:i + 1]], dim=-1)  # (B, 1, C)
            x = z[:, i:i + 1]  # (B, 1, D)
            for k in reversed(range(len(self.steps))):
                x, states[k] = self.steps[k].inverse(x, cond, states[k])
            frames.append(x)
            history = torch.cat([history[:, 1:], x], dim=1)  # (B, n_prev, D)
        return torch.cat(frames, dim=1).reshape(b, t, 2, cfg.n_points)

    @torch.no_grad()
    def sample(self, mel, temperature=1.0, generator=None, n_frames=None):
        """Poses [B, T, 2, P] for mel [B, 80, M]: z = temperature * N(0, I), inverted.  ``n_frames`` defaults
        to :meth:`frames_spanned` (64 for 427 mel frames); temperature 0 gives z = 0, the same path each time."""
        cfg = self.cfg
        n_frames = self.frames_spanned(mel) if n_frames is None else n_frames
        z = torch.randn(len(mel), n_frames, cfg.dim, generator=generator, device=mel.device, dtype=mel.dtype)
        return self.inverse(z * temperature, mel)


def moglow_nll(z, logdet):
    """Negative log-likelihood in nats per pose value: -(sum log N(z; 0, I) + sum logdet) / (B T D), from
    z [B, T, D] and per-frame log-determinants [B, T] (change of variables, Dinh et al. 2017; Glow eq. 1)."""
    log_prior = -0.5 * (z.square() + math.log(2 * math.pi))  # (B, T, D)
    return -(log_prior.sum() + logdet.sum()) / z.numel()
