"""A trained model ready to use: rebuilt from one checkpoint (ours, or the release's with the speaker's stats).

``GestureModel.predict(audio, templates)`` gives final-result poses (SDT_SPEC 1.3: denormalised, global,
times the speaker's scale_factor), what metrics and renderings use.
"""

from dataclasses import dataclass

import numpy as np
import torch

from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import PoseSeqVAE, PoseVAEConfig
from sdt.audio import MelSpectrogram
from sdt.checkpoint import load_checkpoint
from sdt.poses import final_results, normalise, stats_for, to_parted


def _tensor_stats(stats, device):
    return {k: (torch.as_tensor(np.asarray(v), dtype=torch.float32, device=device) if not isinstance(v, str)
                else v) for k, v in stats.items()}


@dataclass
class GestureModel:
    """An audio-to-pose generator with its templates (None for Speech2Gesture) and speaker statistics."""

    method: str
    generator: SequenceGeneratorCNN
    templates: torch.Tensor | None  # [N_train, D] (SDT-BP table or SDT-VAE's VAE means)
    stats: dict
    parted: bool
    device: torch.device

    def __post_init__(self):
        self.mel = MelSpectrogram().to(self.device)
        self.generator.eval()
        self._stats_t = _tensor_stats(self.stats, self.device)

    @property
    def template_dim(self):
        return 0 if self.templates is None else self.templates.shape[1]

    @torch.no_grad()
    def predict(self, audio, templates=None):
        """audio [B, 68266] (16 kHz) -> final-result poses [B, 64, 2, 121]; templates [B, D] or None."""
        audio = torch.as_tensor(audio, dtype=torch.float32, device=self.device)
        if templates is not None:
            templates = torch.as_tensor(templates, dtype=torch.float32, device=self.device)
        pred = self.generator(self.mel(audio), templates)
        return final_results(pred, self._stats_t, self.parted)


@dataclass
class PoseEncoder:
    """The pose VAE's encoder, for FTD and for "template from the true poses" (SDT_SPEC 5, 6)."""

    vae: PoseSeqVAE
    stats: dict
    device: torch.device

    def __post_init__(self):
        self.vae.eval()
        self.mean, self.std = (torch.as_tensor(a, dtype=torch.float32, device=self.device)
                               for a in stats_for(self.stats, True))

    @torch.no_grad()
    def encode_final(self, poses_final):
        """Final-result global poses [B, 64, 2, 121] (px, scaled) -> (mu, logvar) [B, D] of the VAE encoder."""
        p = torch.as_tensor(poses_final, dtype=torch.float32, device=self.device)
        p = p / float(self.stats["scale_factor"])
        return self.vae.encode(normalise(to_parted(p), self.mean, self.std))


def load_gesture_model(path, device="cpu", stats=None):
    """Rebuild a generator from our checkpoint, or from a release checkpoint (then ``stats`` is required)."""
    device = torch.device(device)
    ckpt = load_checkpoint(path, map_location=device)
    if "model_configs" not in ckpt:  # the authors' release layout (SDT_SPEC 7)
        from sdt.release_checkpoint import load_release_checkpoint

        if stats is None:
            raise ValueError(f"{path} is a release checkpoint: give the speaker's stats.npz to use it")
        rel = load_release_checkpoint(ckpt, kind="audio2pose")
        gen = rel["generator"].to(device)
        templates = rel.get("templates")
        parted = gen.cfg.norm.upper() != "BN" if hasattr(gen, "cfg") else True
        method = "release_sdt" if templates is not None else "release_s2g"
        return GestureModel(method, gen, None if templates is None else templates.to(device), stats, parted, device)
    gen = SequenceGeneratorCNN(GeneratorConfig(**ckpt["model_configs"]["netG"])).to(device)
    gen.load_state_dict(ckpt["state_dicts"]["netG"])
    templates = ckpt["templates"]
    return GestureModel(ckpt["method"], gen, None if templates is None else templates.to(device),
                        stats if stats is not None else ckpt["stats"], ckpt["parted"], device)


def load_pose_encoder(path, device="cpu", stats=None):
    """The pose VAE (ours or the release's) as a :class:`PoseEncoder`; also returns its stored clip means."""
    device = torch.device(device)
    ckpt = load_checkpoint(path, map_location=device)
    if "model_configs" not in ckpt:
        from sdt.release_checkpoint import load_release_checkpoint

        if stats is None:
            raise ValueError(f"{path} is a release checkpoint: give the speaker's stats.npz to use it")
        rel = load_release_checkpoint(ckpt, kind="vae")
        return PoseEncoder(rel["vae"].to(device), stats, device)
    vae = PoseSeqVAE(PoseVAEConfig(**ckpt["model_configs"]["vae"])).to(device)
    vae.load_state_dict(ckpt["state_dicts"]["vae"])
    return PoseEncoder(vae, stats if stats is not None else ckpt["stats"], device)
