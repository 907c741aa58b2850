"""The mel-spectrogram encoder of Speech Drives Templates (Qian et al., ICCV 2021; docs/networks.md §1), shared in
design with Speech2Gesture (Ginosar et al., CVPR 2019): a 2D CNN over [B, 1, 80, T] -> per-frame features.

Layout as in the release (``specgram_encoder_2d.<block>.<layer>``): four blocks of two ConvNormRelu layers.
"""

import torch.nn.functional as F
from torch import nn

from models.blocks import ConvNormRelu

# (in, out, layer options) per block: a plain 3x3 layer, then a downsampling (or the final (6, 3) valid) layer
_BLOCKS = (
    (1, 64, {"downsample": True}),
    (64, 128, {"downsample": True}),
    (128, 256, {"downsample": True}),
    (256, 256, {"kernel_size": (6, 3), "stride": 1, "padding": 0}),  # 80 mels: height 10 -> 5
)
FEATURES = 256  # channels of the encoder's output


class AudioEncoder(nn.Module):
    """mel [B, 80, T_mel] -> features [B, 256, n_frames] (2D CNN, then a bilinear resize to 1 x n_frames)."""

    def __init__(self, norm="IN", leaky=True):
        super().__init__()
        blocks = []
        for c_in, c_out, last in _BLOCKS:
            blocks.append(nn.Sequential(
                ConvNormRelu(c_in, c_out, dim=2, norm=norm, leaky=leaky),
                ConvNormRelu(c_out, c_out, dim=2, norm=norm, leaky=leaky, **last),
            ))
        self.specgram_encoder_2d = nn.Sequential(*blocks)

    def forward(self, mel, n_frames):
        x = self.specgram_encoder_2d(mel.unsqueeze(1))  # (B, 256, 5, 51) for an [80, 427] clip
        # the release's F.interpolate(..., mode="bilinear") with its default align_corners=False
        x = F.interpolate(x, size=(1, n_frames), mode="bilinear", align_corners=False)
        return x.squeeze(2)  # (B, 256, n_frames)
