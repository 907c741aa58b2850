"""The motion discriminator of the Speech2Gesture baseline (Ginosar et al., CVPR 2019), as the Speech Drives
Templates release trains it (Qian et al., ICCV 2021; docs/networks.md §1, §3): a 1D CNN over frame differences that
scores each window of a pose sequence as real or generated, trained with the least-squares GAN loss
(Mao et al., 2017).

The layers live in ``seq`` as in the release, so its ``module.netD_pose.seq.<i>.*`` keys load with the prefix
stripped.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.blocks import ConvNormRelu
from models.contract import N_121


@dataclass
class PoseDiscriminatorConfig:
    n_points: int = N_121  # keypoints per frame; the input has 2 * n_points channels
    leaky: bool = True  # LeakyReLU(0.2) (the release's Speech2Gesture config; its code default is ReLU)
    motion: bool = True  # score frame differences poses[1:] - poses[:-1] (the release's default), not poses


class PoseSequenceDiscriminator(nn.Module):
    """forward(poses [B, T, 2, P]) -> scores [B, T'] (T = 64: motion 63 frames -> 31 -> 15 scores)."""

    def __init__(self, cfg: PoseDiscriminatorConfig):
        super().__init__()
        self.cfg = cfg

        def block(c_in, c_out, **kw):
            return ConvNormRelu(c_in, c_out, dim=1, norm="BN", leaky=cfg.leaky, **kw)

        self.seq = nn.Sequential(
            block(2 * cfg.n_points, 256, downsample=True),
            block(256, 512, downsample=True),
            block(512, 1024),
            nn.Conv1d(1024, 1, kernel_size=3, stride=1, padding=1, bias=True),
        )

    def forward(self, poses):
        x = poses[:, 1:] - poses[:, :-1] if self.cfg.motion else poses  # (B, T-1, 2, P)
        x = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2)  # (B, 2P, T-1), channel = coord * P + point
        return self.seq(x).squeeze(1)  # (B, T')


# LSGAN losses (Mao et al., "Least Squares Generative Adversarial Networks", 2017), as the release's MSELoss.
def lsgan_generator_loss(fake_score):
    """The generator wants its sequences scored 1 (real)."""
    return F.mse_loss(fake_score, torch.ones_like(fake_score))


def lsgan_discriminator_loss(real_score, fake_score):
    """Real sequences to 1, generated ones (detached from the generator) to 0; the two terms summed."""
    real = F.mse_loss(real_score, torch.ones_like(real_score))
    return real + F.mse_loss(fake_score, torch.zeros_like(fake_score))
