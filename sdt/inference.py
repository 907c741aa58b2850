"""A trained model ready to use: rebuilt from one checkpoint (ours, or the release's with the speaker's stats).

``GestureModel.predict(audio, templates)`` gives final-result poses (SDT_SPEC 1.3: denormalised, global,
times the speaker's scale_factor), what metrics and renderings use.

Template tables: ours holds the table it trained (one row per packed train clip, in clips.csv ``index`` order); a
release SDT-BP its ``clips_code``, a release SDT-VAE none (its templates are the release VAE's ``clip_code_mu``).
The release's tables have one row per train row of its processed_137.csv (``clips.csv`` ``release_row``, skipped
clips included): :func:`table_rows` gives the clips.csv row of each table row for either kind, and a table of any
other length is an error naming both numbers (a checkpoint of another speaker, or other data).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import PoseSeqVAE, PoseVAEConfig
from sdt.audio import MelSpectrogram
from sdt.checkpoint import load_checkpoint
from sdt.device import fast_layout
from sdt.errors import InputError
from sdt.poses import final_results, from_final, release_global_to_encoder


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
    release: bool = False  # the authors' checkpoint: its table rows are the release's train rows

    def __post_init__(self):
        self.mel = MelSpectrogram().to(self.device)
        fast_layout(self.generator, self.device).eval()
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

    @torch.no_grad()
    def predict_samples(self, audio, templates):
        """audio [B, 68266], templates [K, B, D] -> K final-result predictions [B, 64, 2, 121], each equal to
        ``predict(audio, templates[k])``; the audio encoder (~95 % of a generator pass) runs once for all K."""
        mel = self.mel(torch.as_tensor(audio, dtype=torch.float32, device=self.device))
        features = self.generator.audio_encoder(mel, self.generator.cfg.n_frames)
        return [final_results(self.generator(mel, torch.as_tensor(t, dtype=torch.float32, device=self.device),
                                             features=features), self._stats_t, self.parted) for t in templates]


@dataclass
class PoseEncoder:
    """The pose VAE's encoder, for FTD and for "template from the true poses" (SDT_SPEC 5, 6)."""

    vae: PoseSeqVAE
    stats: dict
    device: torch.device

    def __post_init__(self):
        self.vae.eval()
        self._stats_t = _tensor_stats(self.stats, self.device)

    @torch.no_grad()
    def encode_final(self, poses_final, release_global=False):
        """Final-result global poses [B, 64, 2, 121] (px, scaled) -> (mu, logvar) [B, D] of the VAE encoder.

        The encoder takes normalised parted poses (SDT_SPEC 6).  ``release_global``: the release's input for a
        global-pose model instead (:func:`sdt.poses.release_global_to_encoder` of the normalised global poses),
        the path of the paper's Speech2Gesture FTD (issue 14)."""
        p = torch.as_tensor(poses_final, dtype=torch.float32, device=self.device)
        if release_global:
            return self.vae.encode(release_global_to_encoder(from_final(p, self._stats_t, False), self._stats_t))
        return self.vae.encode(from_final(p, self._stats_t, True))


def vae_clip_means(path):
    """(mu [N_train, D], release): a pose VAE's stored posterior means of its training clips (SDT-VAE's templates),
    from our checkpoint or the release's (``module.clip_code_mu``; then ``release`` is True)."""
    ckpt = load_checkpoint(path)
    if "model_configs" in ckpt:
        return ckpt["buffers"]["clip_code_mu"].float(), False
    from sdt.release_checkpoint import load_release_checkpoint

    mu = load_release_checkpoint(ckpt, kind="vae")["clip_code_mu"]
    if mu is None:
        raise InputError(path, "holds no module.clip_code_mu: SDT-VAE's templates are missing")
    return mu, True


def table_rows(index_csv, release):
    """The clips.csv train rows a template table holds, in the table's row order.  Ours (``release`` False) trained
    on the packed clips: their rows by ``index``.  The authors' (``release`` True): every train row of the release by
    ``release_row``, skipped clips included (a speaker built from videos has no release rows: as ours)."""
    table = pd.read_csv(index_csv)
    train = table[table["dataset"].astype(str) == "train"]
    if release and "release_row" in train:
        return train.sort_values("release_row")
    return train[train["index"] >= 0].sort_values("index")


def check_templates(templates, release, index_csv, path):
    """InputError naming both numbers when a template table does not have one row per train row."""
    if templates is None or index_csv is None:
        return
    expected = len(table_rows(index_csv, release))
    if len(templates) != expected:
        whose = "train rows of the release in" if release else "train clips in"
        raise InputError(path, f"its template table has {len(templates)} rows, but there are {expected} {whose} "
                               f"{index_csv}: a checkpoint of other data or of another speaker")


def _release_templates(rel, path, pose_vae):
    """A release generator's templates: SDT-BP's clips_code, SDT-VAE's release pose VAE clip means, or None."""
    templates = rel["templates"]
    if templates is None and rel["generator_config"].template_dim and pose_vae is not None:
        templates, from_release = vae_clip_means(pose_vae)  # a release SDT-VAE: the VAE's per-clip means
        if not from_release:  # another VAE's latent space: its codes mean nothing to this generator
            raise InputError(path, f"a release SDT-VAE takes its templates from the release's pose VAE, not from "
                                   f"{pose_vae}: give the authors' pose_vae checkpoint too")
    return templates


def template_table(path, pose_vae=None):
    """(templates [N, D] float32 array or None, release) of an audio-to-pose checkpoint, ours or the authors'."""
    ckpt = load_checkpoint(path)
    if "model_configs" in ckpt:
        return (None if ckpt["templates"] is None else ckpt["templates"].float().numpy()), False
    from sdt.release_checkpoint import load_release_checkpoint

    templates = _release_templates(load_release_checkpoint(ckpt, kind="audio2pose"), path, pose_vae)
    return (None if templates is None else templates.float().numpy()), True


def load_gesture_model(path, device="cpu", stats=None, pose_vae=None, index_csv=None):
    """Rebuild a generator from our checkpoint, or from a release checkpoint (then ``stats`` is required; a release
    SDT-VAE takes its templates from ``pose_vae``).  With ``index_csv`` (clips.csv) the template table's length is
    checked against the speaker's train rows (:func:`check_templates`)."""
    device = torch.device(device)
    ckpt = load_checkpoint(path, map_location=device)
    if "model_configs" not in ckpt:  # the authors' release layout (SDT_SPEC 7)
        from sdt.release_checkpoint import load_release_checkpoint

        if stats is None:
            raise ValueError(f"{path} is a release checkpoint: give the speaker's stats.npz to use it")
        rel = load_release_checkpoint(ckpt, kind="audio2pose")
        gen = rel["generator"].to(device)
        templates = _release_templates(rel, path, pose_vae)
        parted = gen.cfg.norm.upper() != "BN"  # the release's Speech2Gesture: batch norm, global poses
        method = "release_sdt" if gen.cfg.template_dim else "release_s2g"
        model = GestureModel(method, gen, None if templates is None else templates.to(device), stats, parted, device,
                             release=True)
    else:
        gen = SequenceGeneratorCNN(GeneratorConfig(**ckpt["model_configs"]["netG"])).to(device)
        gen.load_state_dict(ckpt["state_dicts"]["netG"])
        templates = ckpt["templates"]
        model = GestureModel(ckpt["method"], gen, None if templates is None else templates.to(device),
                             stats if stats is not None else ckpt["stats"], ckpt["parted"], device)
    check_templates(model.templates, model.release, index_csv, path)
    return model


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
