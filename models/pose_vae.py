"""The pose-sequence VAE of Speech Drives Templates (Qian et al., ICCV 2021; docs/networks.md §1, §3): the release's
``Pose2Pose`` autoencoder.  Its encoder's posterior mean is SDT-VAE's template and the feature space of the
Frechet Template Distance; the template KL regulariser of SDT-BP lives here too.

Module names follow the release (``encoder.blocks.<i>``, ``decoder.d1..d5``, ``decoder.blocks.<i>``), so its
``module.ae.*`` keys (and an audio-to-pose checkpoint's ``module.pose_encoder.*``) load with the prefix cut.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.blocks import NORMS, ConvNormRelu
from models.contract import CLIP_FRAMES, N_121

WIDTH = 256
N_UP = 5  # decoder: 2 -> 64 frames by five x2 upsamplings


@dataclass
class PoseVAEConfig:
    code_dim: int = 32  # template / latent dimension
    norm: str = "BN"  # the release's VAE uses batch norm
    leaky: bool = True  # LeakyReLU(0.2)
    n_points: int = N_121  # keypoints per frame; sequences have 2 * n_points channels
    n_frames: int = CLIP_FRAMES  # frames per clip; the decoder starts from n_frames / 32 frames

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"PoseVAEConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if self.n_frames % 2**N_UP:
            raise ValueError(f"PoseVAEConfig.n_frames must be a multiple of {2**N_UP}, got {self.n_frames}")


def _block(c_in, c_out, cfg, down=False):
    return ConvNormRelu(c_in, c_out, dim=1, downsample=down, norm=cfg.norm, leaky=cfg.leaky)


class PoseSeqEncoder(nn.Module):
    """poses [B, T, 2, P] -> (mu, logvar), each [B, code_dim]."""

    def __init__(self, cfg: PoseVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.Sequential(
            _block(2 * cfg.n_points, WIDTH, cfg),
            _block(WIDTH, WIDTH, cfg),
            *(_block(WIDTH, WIDTH, cfg, down=True) for _ in range(4)),  # 64 -> 4 frames
            _block(WIDTH, 2 * cfg.code_dim, cfg, down=True),  # 4 -> 2 frames
        )

    def forward(self, poses):
        x = poses.reshape(poses.shape[0], poses.shape[1], -1).transpose(1, 2)  # (B, 2P, T)
        # the release's F.interpolate(x, 1): mode "nearest", i.e. the first of the 2 remaining frames
        x = F.interpolate(self.blocks(x), size=1).squeeze(-1)  # (B, 2 * code_dim)
        return x[:, 0::2], x[:, 1::2]  # mu, logvar: even and odd channels


class PoseSeqDecoder(nn.Module):
    """code [B, D] -> poses [B, T, 2, P]: five (linear x2 upsample, block) steps d5..d1, four blocks, 1x1."""

    def __init__(self, cfg: PoseVAEConfig):
        super().__init__()
        self.cfg = cfg
        for k in range(N_UP, 0, -1):  # d5 comes first and takes the code
            setattr(self, f"d{k}", _block(cfg.code_dim if k == N_UP else WIDTH, WIDTH, cfg))
        layers = [_block(WIDTH, WIDTH, cfg) for _ in range(4)]
        self.blocks = nn.Sequential(*layers, nn.Conv1d(WIDTH, 2 * cfg.n_points, kernel_size=1, bias=True))

    def forward(self, z):
        x = z.unsqueeze(-1).expand(-1, -1, self.cfg.n_frames // 2**N_UP)  # (B, D, 2): the code repeated
        for k in range(N_UP, 0, -1):
            x = F.interpolate(x, size=2 * x.shape[-1], mode="linear")  # align_corners=False, as the release
            x = getattr(self, f"d{k}")(x)  # (B, 256, 4 .. 64)
        x = self.blocks(x)  # (B, 2P, T)
        return x.transpose(1, 2).reshape(len(x), self.cfg.n_frames, 2, self.cfg.n_points)


class PoseSeqVAE(nn.Module):
    """forward(poses [B, T, 2, P]) -> (reconstruction [B, T, 2, P], mu [B, D], logvar [B, D]).

    Training mode decodes a reparameterised sample ``mu + exp(logvar / 2) * eps``; eval mode decodes ``mu``,
    so evaluation is deterministic (the release samples in both modes).
    """

    def __init__(self, cfg: PoseVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = PoseSeqEncoder(cfg)
        self.decoder = PoseSeqDecoder(cfg)

    def encode(self, poses):
        return self.encoder(poses)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, poses, noise=None):
        """``noise``: the standard-normal draws of the sample [B, D] (default: drawn here)."""
        mu, logvar = self.encoder(poses)  # (B, D) each
        if self.training:
            mu_sample = mu + torch.exp(0.5 * logvar) * (torch.randn_like(mu) if noise is None else noise)
        return self.decoder(mu_sample if self.training else mu), mu, logvar


def vae_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per dimension, averaged over batch and dimensions (the release's
    Pose2Pose loss): 0.5 * mean(-logvar + mu^2 + exp(logvar) - 1)."""
    return 0.5 * (-logvar + mu**2 + torch.exp(logvar) - 1).mean()


def template_kl(templates):
    """SDT-BP's template regulariser (docs/networks.md §3): the KL term above with the batch's per-dimension mean and
    (unbiased, as torch.var and the release) variance of the templates [B, D] in place of one posterior.

    0 (no gradient) when a variance is 0, e.g. on the zero-initialised table, as the release skips the term;
    also for a batch of one, whose unbiased variance is undefined.
    """
    if len(templates) < 2:
        return templates.new_zeros(())
    mu, var = templates.mean(dim=0), templates.var(dim=0)
    if not bool((var != 0).all()):
        return templates.new_zeros(())
    return 0.5 * (-torch.log(var) + mu**2 + var - 1).mean()
