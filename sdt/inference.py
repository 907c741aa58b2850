"""A trained model ready to use: rebuilt from one checkpoint (ours, or the release's with the speaker's stats).

One prediction interface for every family (evaluate, demo and render_clips use it):
``GestureModel.predict(audio, latent)`` gives final-result poses (docs/dataset.md §5: denormalised, global, times the
speaker's scale_factor), what metrics and renderings use.  The *latent* is what a method draws at random, by its
family's ``latent`` (sdt.families):

  template   a template per clip [B, D] (or per frame [B, D, 64]) for a method with templates; None is an error
  noise      z [B, T, ...] (MoGlow: [B, T, 2 x 121]), already multiplied by the temperature; None = z drawn
             from seed 0 at the model's ``temperature`` (1.0 unless given to :func:`load_gesture_model`)
  none       nothing (None)

The prediction itself is the family's ``infer`` (sdt/families/<family>.py), imported by name, so a rule that uses
one family's model depends on that family's code only (its code digest, sdt.plan).

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

from sdt.checkpoint import load_checkpoint
from sdt.constants import CLIP_FRAMES
from sdt.errors import InputError
from sdt.families import family, features, network
from sdt.methods import Method
from sdt.poses import final_results, from_final, release_global_to_encoder


def _tensor_stats(stats, device):
    return {k: (torch.as_tensor(np.asarray(v), dtype=torch.float32, device=device) if not isinstance(v, str)
                else v) for k, v in stats.items()}


@dataclass
class GestureModel:
    """An audio-to-pose network of any family with its templates (None without), speaker statistics and
    definition."""

    method: str
    definition: Method
    net: torch.nn.Module
    templates: torch.Tensor | None  # [N_train, D] or [N_train, D, 64] (SDT-BP table or SDT-VAE's VAE means)
    stats: dict
    parted: bool
    device: torch.device
    release: bool = False  # the authors' checkpoint: its table rows are the release's train rows
    temperature: float = 1.0  # MoGlow: z = temperature x N(0, I)

    def __post_init__(self):
        self.family = family(self.definition.family)
        self.ops = self.family.load()  # its infer (and infer_samples, latent_shape, latent_frames)
        self.features = features(self.family.name).to(self.device)
        self.net.eval()  # the release's formulation (plain blocks, NCHW): its outputs, not train.fast's
        self._stats_t = _tensor_stats(self.stats, self.device)

    @property
    def template_dim(self):
        return 0 if self.templates is None else self.templates.shape[1]

    @property
    def n_frames(self):
        return getattr(self.net.cfg, "n_frames", CLIP_FRAMES)

    def noise(self, seed, clips, sample=0, n_frames=None):
        """Latents of a ``noise`` family (MoGlow) for clip indices ``clips`` [B]: z [B, T, ...] = temperature x
        N(0, I), each clip's from its own CPU generator seeded by (seed, sample, clip), so a clip gets the same draw
        whatever its batch or device."""
        shape = self.ops.latent_shape(self.net, n_frames or self.n_frames)
        keys = [((seed * 1_000_003 + sample) * 1_000_003 + int(c)) % 2**63 for c in clips]
        draws = [torch.randn(shape, generator=torch.Generator().manual_seed(k)) for k in keys]
        return torch.stack(draws) * self.temperature

    @torch.no_grad()
    def predict(self, audio, latent=None):
        """audio [B, 68266] (16 kHz) -> final-result poses [B, 64, 2, 121]; ``latent`` as the module says."""
        audio = torch.as_tensor(audio, dtype=torch.float32, device=self.device)
        if latent is not None:
            latent = torch.as_tensor(latent, dtype=torch.float32, device=self.device)
        feats = self.features(audio)
        if latent is None and self.family.latent == "noise":
            latent = self.noise(0, range(len(audio)), n_frames=self.ops.latent_frames(self.net, feats)).to(self.device)
        if latent is not None and self.family.latent == "none":
            raise ValueError(f"{self.method} draws nothing at random, but a latent was given")
        return final_results(self.ops.infer(self.net, feats, latent).float(), self._stats_t, self.parted)

    @torch.no_grad()
    def predict_samples(self, audio, latents):
        """audio [B, 68266], latents [K, B, ...] -> K final-result predictions [B, 64, 2, 121], each equal to
        ``predict(audio, latents[k])``; a family's ``infer_samples`` shares what the K samples have in common (the
        U-Net's audio encoder, ~95 % of a pass)."""
        many = getattr(self.ops, "infer_samples", None)
        if many is None:
            return [self.predict(audio, latent) for latent in latents]
        feats = self.features(torch.as_tensor(audio, dtype=torch.float32, device=self.device))
        latents = [torch.as_tensor(t, dtype=torch.float32, device=self.device) for t in latents]
        return [final_results(p.float(), self._stats_t, self.parted) for p in many(self.net, feats, latents)]


@dataclass
class PoseEncoder:
    """The pose VAE's encoder, for FTD and for "template from the true poses" (docs/evaluation.md §1)."""

    vae: torch.nn.Module
    stats: dict
    device: torch.device

    def __post_init__(self):
        self.vae.eval()
        self._stats_t = _tensor_stats(self.stats, self.device)

    @torch.no_grad()
    def encode_final(self, poses_final, release_global=False):
        """Final-result global poses [B, 64, 2, 121] (px, scaled) -> (mu, logvar) [B, D] of the VAE encoder.

        The encoder takes normalised parted poses (docs/evaluation.md §3).  ``release_global``: the release's input
        for a global-pose model instead (:func:`sdt.poses.release_global_to_encoder` of the normalised global poses),
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


def _release_model(path, ckpt, stats, device, pose_vae):
    """A release audio-to-pose checkpoint (docs/networks.md §4) as a GestureModel: SDT (templates) or Speech2Gesture."""
    from sdt.release_checkpoint import load_release_checkpoint

    if stats is None:
        raise ValueError(f"{path} is a release checkpoint: give the speaker's stats.npz to use it")
    rel = load_release_checkpoint(ckpt, kind="audio2pose")
    gen = rel["generator"].to(device)
    templates = _release_templates(rel, path, pose_vae)
    bn = gen.cfg.norm.upper() == "BN"  # the release's Speech2Gesture: batch norm, global poses
    if gen.cfg.template_dim:
        frame = templates is not None and templates.dim() == 3
        definition = Method("release_sdt", template="frame_bp" if frame else "clip_bp", norm="BN" if bn else "IN*")
    else:
        definition = Method("release_s2g", norm="BN" if bn else "IN*", poses="global" if bn else "parted")
    return GestureModel(definition.name, definition, gen, None if templates is None else templates.to(device),
                        stats, not bn, device, release=True)


def load_gesture_model(path, device="cpu", stats=None, pose_vae=None, index_csv=None, temperature=1.0):
    """Rebuild an audio-to-pose model from our checkpoint, or from a release checkpoint (then ``stats`` is required;
    a release SDT-VAE takes its templates from ``pose_vae``).  With ``index_csv`` (clips.csv) the template table's
    length is checked against the speaker's train rows (:func:`check_templates`).  ``temperature``: MoGlow's."""
    device = torch.device(device)
    ckpt = load_checkpoint(path, map_location=device)
    if "model_configs" not in ckpt:  # the authors' release layout (docs/networks.md §4)
        model = _release_model(path, ckpt, stats, device, pose_vae)
    else:  # a checkpoint from before method definitions is one of the paper's U-Net methods
        definition = Method.of(ckpt["definition"] if "definition" in ckpt else ckpt["method"])
        net = network(definition.family, ckpt["model_configs"]["netG"]).to(device)
        net.load_state_dict(ckpt["state_dicts"]["netG"])
        templates = ckpt["templates"]
        model = GestureModel(ckpt["method"], definition, net, None if templates is None else templates.to(device),
                             stats if stats is not None else ckpt["stats"], ckpt["parted"], device)
    model.temperature = float(temperature)
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
    vae = network("pose_vae", ckpt["model_configs"]["vae"]).to(device)
    vae.load_state_dict(ckpt["state_dicts"]["vae"])
    return PoseEncoder(vae, stats if stats is not None else ckpt["stats"], device)
