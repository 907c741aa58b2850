"""Audio to Body Dynamics (Shlizerman, Dery, Schoen, Kemelmacher-Shlizerman, CVPR 2018) as the Speech Drives
Templates paper ran it as a baseline (Qian et al., ICCV 2021, Table 2; docs/networks.md §2): LSTM regressors from
28-channel MFCC features (``models.features.MFCC``) to normalised 121-point poses.

Sources: SDT says separate LSTMs for the body and for the hands plus a third for the face, hidden size 800
instead of 200, MFCC input.  The rest follows the authors' release (facebookarchive/Audio2BodyDynamics,
``model.py``, ``pytorch_A2B_dynamics.py``, ``data_utils/data.py``, ``run_pipeline.sh``; read, not copied):

- one LSTM per part: body = 121-points 0-8 (nose, shoulders, elbows, wrists, eyes), face = 9-78, hands =
  79-120 (both hands in one LSTM: "a third LSTM for the face" makes three).  ``separate_hands=True`` gives the
  release's own split (one network per hand), four LSTMs.
- one LSTM layer (the release's ``nn.LSTM(input_dim, hidden_dim, 1)``), then dropout 0.1 (its ``--dp``) on the
  LSTM output, then a linear layer to the part's coordinates.
- no PCA of the outputs: the release fits PCA (15 components) to the hands only, not to the body
  (``--numpca -1``); a linear projection after a linear layer only lowers the output rank, SDT's poses are
  already normalised per coordinate, and SDT mentions no PCA.
- time delay: the release shifts the targets ``--time_delay 6`` frames later than the audio (its help: "30
  frames = 1 second", so 0.2 s), and at test time drops the first 6 outputs: the pose of frame t is read
  after the LSTM has heard the audio up to t + 6.  Here ``delay`` = 3 pose frames (0.2 s at 15 fps); the
  MFCC sequence is padded at its end with ``delay`` zero frames (the training mean, after standardisation)
  so that a clip still gives all its frames, and output t is the LSTM's step t + delay.
- initial state: trainable, zero-initialised (the release's default ``trainable_init``), one vector shared
  by the batch (the release keeps one per batch slot, which ties the model to its batch size).
- initialisation as the release: Xavier-normal LSTM and linear weights, LSTM biases uniform in [0.25, 0.5]
  (the release's comment: "pulled from Caffe2"), linear bias 0.
- input: the release feeds its MFCCs unnormalised (audio mean 0, std 1); here they are standardised per
  channel with training statistics (:class:`~models.blocks.Standardize`, identity until ``fit_input_stats``):
  c0 and the log energy are dB values in the hundreds, which saturate an LSTM at 800 units.
- loss: squared error summed over a frame's coordinates, averaged over frames and clips (the release's
  ``buildLoss``, there on PCA coefficients): :func:`audio2body_loss`.  The release trains each part alone;
  one sum over all coordinates gives each part's parameters the same gradient, as the parts share none.
The release trains with Adam, lr 1e-3, batch 100, 150-frame windows; SDT's settings (docs/networks.md §3) are the
trainer's business.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.blocks import Standardize
from models.contract import M_BODY, M_FACE, M_LHAND, M_RHAND, N_121

# (name, 121-point slice); together they cover 0..120 in order, so concatenating the parts is the layout.
PARTS = (("body", M_BODY), ("face", M_FACE), ("hands", slice(M_LHAND.start, M_RHAND.stop)))
PARTS_SEPARATE_HANDS = (("body", M_BODY), ("face", M_FACE), ("left_hand", M_LHAND), ("right_hand", M_RHAND))


@dataclass
class Audio2BodyConfig:
    n_audio: int = 28  # input channels: 13 MFCC + log energy, and their deltas (models.features.MFCC)
    hidden: int = 800  # LSTM units (SDT; the original used 200)
    n_layers: int = 1  # LSTM layers (the release: 1)
    dropout: float = 0.1  # on the LSTM output, before the linear layer (the release's --dp)
    delay: int = 3  # pose frames the output lags the audio (0.2 s: the release's 6 frames at 30 fps)
    separate_hands: bool = False  # True: one LSTM per hand (the release), four in all

    def __post_init__(self):
        if self.hidden < 1 or self.n_layers < 1 or self.n_audio < 1:
            raise ValueError(f"Audio2BodyConfig sizes must be >= 1, got {self}")
        if self.delay < 0:
            raise ValueError(f"Audio2BodyConfig.delay must be >= 0, got {self.delay}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"Audio2BodyConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def parts(self):
        return PARTS_SEPARATE_HANDS if self.separate_hands else PARTS


class PartLSTM(nn.Module):
    """audio features [B, T, C] -> coordinates [B, T, 2, P] of one part's P points: LSTM, dropout, linear."""

    def __init__(self, cfg: Audio2BodyConfig, n_points):
        super().__init__()
        self.n_points = n_points
        self.lstm = nn.LSTM(cfg.n_audio, cfg.hidden, cfg.n_layers, batch_first=True)
        self.h0 = nn.Parameter(torch.zeros(cfg.n_layers, 1, cfg.hidden))  # trainable initial state
        self.c0 = nn.Parameter(torch.zeros(cfg.n_layers, 1, cfg.hidden))
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.hidden, 2 * n_points)
        for name, p in self.lstm.named_parameters():
            if name.startswith("weight"):
                nn.init.xavier_normal_(p)
            else:
                nn.init.uniform_(p, 0.25, 0.5)
        nn.init.xavier_normal_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):  # (B, T, C)
        state = (self.h0.expand(-1, len(x), -1).contiguous(), self.c0.expand(-1, len(x), -1).contiguous())
        h = self.lstm(x, state)[0]  # (B, T, H)
        out = self.fc(self.dropout(h))  # (B, T, 2P): x of the P points, then y
        return out.view(*out.shape[:2], 2, self.n_points)  # (B, T, 2, P)


class Audio2Body(nn.Module):
    """forward(mfcc [B, 28, T]) -> normalised poses [B, T, 2, 121] (the generator's layout and space).

    Each part's LSTM sees the whole MFCC sequence; output frame t has heard the audio up to frame t + delay.
    Call ``fit_input_stats`` once with training MFCCs before training (the statistics are saved with the
    state dict)."""

    def __init__(self, cfg: Audio2BodyConfig):
        super().__init__()
        self.cfg = cfg
        self.input_norm = Standardize(cfg.n_audio)
        self.parts = nn.ModuleDict({name: PartLSTM(cfg, sl.stop - sl.start) for name, sl in cfg.parts})

    def fit_input_stats(self, mfcc):
        """mfcc [N, 28, T] of training clips: sets the per-channel input mean and std."""
        self.input_norm.fit(mfcc)
        return self

    def forward(self, mfcc):
        n_frames = mfcc.shape[-1]
        x = self.input_norm(mfcc).transpose(1, 2)  # (B, T, 28)
        x = F.pad(x, (0, 0, 0, self.cfg.delay))  # (B, T + delay, 28): the mean audio after the clip
        parts = [part(x)[:, self.cfg.delay:] for part in self.parts.values()]  # (B, T, 2, P_part) each
        poses = torch.cat(parts, dim=-1)  # (B, T, 2, 121)
        assert poses.shape[1:] == (n_frames, 2, N_121)
        return poses


def audio2body_loss(pred, target):
    """Squared error summed over each frame's 242 coordinates, averaged over frames and clips (the release's
    ``buildLoss``: ``mean(sum((out - target)^2, dim=coordinates))``).  pred, target [B, T, 2, 121]."""
    return (pred - target).square().sum(dim=(-2, -1)).mean()
