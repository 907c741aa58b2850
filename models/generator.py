"""The audio-to-pose generator of Speech Drives Templates (Qian et al., ICCV 2021; docs/networks.md §1).

``SequenceGeneratorCNN``: mel spectrogram (+ a template vector per clip, or one per frame) -> 64 frames of 121 2D
points.
Audio encoder -> [template repeated over time, concatenated] -> 1D U-Net -> 1D decoder -> [B, 64, 2, 121].
With ``template_dim=0`` and ``norm="BN"`` it is the Speech2Gesture baseline's generator (Ginosar et al.).

Submodules are named after the release (``audio_encoder.specgram_encoder_2d``, ``unet.e0..e6|d1..d5``,
``decoder.<i>``), so its ``module.netG.*`` keys load with the prefix stripped (sdt/release_checkpoint.py).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.audio_encoder import FEATURES, AudioEncoder
from models.blocks import NORMS, ConvNormRelu
from models.contract import CLIP_FRAMES, N_121

WIDTH = 256  # channels of the U-Net and the decoder
N_DOWN = 5  # e2..e6: 64 frames -> 2


@dataclass
class GeneratorConfig:
    template_dim: int = 32  # D of the template vector; 0 = no templates (Speech2Gesture)
    norm: str = "IN"  # "IN" (SDT: the paper's IN*), "BN" (Speech2Gesture) or "IN_frames" (the paper's IN, Table 3)
    leaky: bool = True  # LeakyReLU(0.2) instead of ReLU (the release's default for both methods)
    n_points: int = N_121  # keypoints per frame (docs/dataset.md §3); the output has 2 * n_points channels
    n_frames: int = CLIP_FRAMES  # frames per clip (15 fps, 4.27 s)

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"GeneratorConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if self.template_dim < 0:
            raise ValueError(f"GeneratorConfig.template_dim must be >= 0, got {self.template_dim}")


class UNet1D(nn.Module):
    """e0, e1 keep the length; e2..e6 halve it (64 -> 2); d_k = block(resize(previous, len(e_k)) + e_k)."""

    def __init__(self, in_channels, norm, leaky):
        super().__init__()

        def block(c_in, down=False):
            return ConvNormRelu(c_in, WIDTH, dim=1, downsample=down, norm=norm, leaky=leaky)

        self.e0, self.e1 = block(in_channels), block(WIDTH)
        for k in range(2, 2 + N_DOWN):
            setattr(self, f"e{k}", block(WIDTH, down=True))
        for k in range(N_DOWN, 0, -1):
            setattr(self, f"d{k}", block(WIDTH))

    def forward(self, x):  # (B, C_in, T)
        skips = [self.e0(x)]
        for k in range(1, 2 + N_DOWN):
            skips.append(getattr(self, f"e{k}")(skips[-1]))  # e_k: (B, 256, T / 2^(k-1)) for k >= 2
        x = skips.pop()  # e6: (B, 256, T / 32)
        for k in range(N_DOWN, 0, -1):
            skip = skips[k]
            # the release's F.interpolate(..., mode="linear") with its default align_corners=False
            x = getattr(self, f"d{k}")(F.interpolate(x, size=skip.shape[-1], mode="linear") + skip)
        return x  # (B, 256, T)


class SequenceGeneratorCNN(nn.Module):
    """forward(mel [B, 80, T_mel], template [B, D] or None) -> normalised poses [B, n_frames, 2, n_points]."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.audio_encoder = AudioEncoder(cfg.norm, cfg.leaky)
        self.unet = UNet1D(FEATURES + cfg.template_dim, cfg.norm, cfg.leaky)
        layers = [ConvNormRelu(WIDTH, WIDTH, dim=1, norm=cfg.norm, leaky=cfg.leaky) for _ in range(4)]
        self.decoder = nn.Sequential(*layers, nn.Conv1d(WIDTH, 2 * cfg.n_points, kernel_size=1, bias=True))

    def forward(self, mel, template=None, n_frames=None, features=None):
        """``template``: [B, D] (one per clip, repeated over time: SDT) or [B, D, n_frames] (one per frame: the
        release's CLIP_CODE.FRAME_VARIANT, docs/networks.md §5).  ``n_frames`` (default cfg.n_frames) lets a demo
        generate longer sequences from longer audio.  ``features``: ``self.audio_encoder(mel, n_frames)`` if already
        computed (one encoder pass for several templates)."""
        n_frames = self.cfg.n_frames if n_frames is None else n_frames
        x = self.audio_encoder(mel, n_frames) if features is None else features  # (B, 256, T)
        if self.cfg.template_dim:
            x = torch.cat([x, self._template(template, len(mel), n_frames).to(x.dtype)], dim=1)  # (B, 256 + D, T)
        elif template is not None:
            raise ValueError("this generator has no templates (template_dim=0) but one was given")
        x = self.decoder(self.unet(x))  # (B, 2 * P, T); channel c = coordinate c // P of point c % P
        return x.transpose(1, 2).reshape(len(x), n_frames, 2, self.cfg.n_points)  # (B, T, 2, P)

    def _template(self, template, batch, n_frames):
        """The template per frame (B, D, T): a clip's template repeated over time, or per-frame templates as given."""
        dim = self.cfg.template_dim
        if template is not None and tuple(template.shape) == (batch, dim):
            return template.unsqueeze(2).expand(-1, -1, n_frames)
        if template is not None and tuple(template.shape) == (batch, dim, n_frames):
            return template
        got = None if template is None else tuple(template.shape)
        raise ValueError(f"expected a template of shape {(batch, dim)} or {(batch, dim, n_frames)}, got {got}")
