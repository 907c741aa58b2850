"""Load the authors' released checkpoints (ShenhanQian/SpeechDrivesTemplates, docs/networks.md §4) into our models.

A release ``.pth`` is a ``torch.save`` dict ``{epoch, step, model_state_dict, <optimizer>_state_dict...}`` of
a DataParallel-wrapped pipeline, so every weight key starts with ``module.``:

audio-to-pose (``kind="audio2pose"``: SDT-BP, SDT-VAE, Speech2Gesture)
    ``module.netG.*``          -> :class:`models.generator.SequenceGeneratorCNN` (same names below ``netG.``)
    ``module.clips_code``      -> the template table [N_train, D] (SDT-BP only; SDT-VAE's templates are the
                                  VAE checkpoint's ``clip_code_mu`` and are not stored here)
    ``module.netD_pose.*``     -> :class:`models.discriminator.PoseSequenceDiscriminator` (Speech2Gesture)
    ``module.pose_encoder.*``  -> :class:`models.pose_vae.PoseSeqEncoder` (the VAE encoder used for FTD)
pose VAE (``kind="vae"``)
    ``module.ae.*``            -> :class:`models.pose_vae.PoseSeqVAE`
    ``module.clip_code_mu``, ``module.clip_code_logvar`` -> every training clip's posterior [N_train, D]
both
    ``module.mel_transfm.*``   -> skipped: torchaudio's window / filterbank buffers, recomputed by models.features

Configs are inferred from the weights: template dimension from ``clips_code`` and the first U-Net layer's
input channels (256 + D), norm BN vs IN from the presence of ``running_mean``; activations have no weights, so
``leaky`` is the release's default (True) unless given.  Every key ends up in the returned report: loaded,
skipped (with the reason) or unknown; a missing or misshapen weight raises :class:`sdt.errors.InputError`.
"""

import logging
from dataclasses import dataclass, field

import torch

from models.audio_encoder import FEATURES
from models.discriminator import PoseDiscriminatorConfig, PoseSequenceDiscriminator
from models.generator import GeneratorConfig, SequenceGeneratorCNN
from models.pose_vae import PoseSeqEncoder, PoseSeqVAE, PoseVAEConfig
from sdt.errors import InputError

log = logging.getLogger(__name__)
KINDS = ("audio2pose", "vae")
SKIP = {  # key prefix (after "module.") -> why it is not loaded
    "mel_transfm.": "mel spectrogram buffers: recomputed by models.features.MelSpectrogram",
    "netG.code_mapper.": "an early release's CodeMapper: unused when templates are given",
}


@dataclass
class LoadReport:
    """What became of every key of a release checkpoint (keys as written in the file)."""

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # key -> reason
    unknown: list[str] = field(default_factory=list)  # keys this loader does not know: left out
    notes: list[str] = field(default_factory=list)

    def summary(self):
        return (f"{self.source}: {len(self.loaded)} loaded, {len(self.skipped)} skipped, "
                f"{len(self.unknown)} unknown" + "".join(f"; {n}" for n in self.notes))


def _read(path_or_dict, map_location):
    if isinstance(path_or_dict, dict):
        source, ckpt = "<checkpoint dict>", path_or_dict
    else:
        source = str(path_or_dict)
        try:  # a release checkpoint holds only tensors and plain containers: no pickled code is needed
            ckpt = torch.load(source, map_location=map_location, weights_only=True)
        except Exception as err:
            raise InputError(source, f"cannot be read as a PyTorch checkpoint ({err})") from err
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model_state_dict"), dict):
        raise InputError(source, "not a release checkpoint: it has no 'model_state_dict'")
    return source, ckpt


def _top_level(ckpt, report):
    for key in ckpt:
        if key.endswith("_state_dict") and key != "model_state_dict":
            report.skipped[key] = "optimizer state: only needed to resume the authors' training"
        elif key not in ("epoch", "step", "model_state_dict"):
            report.unknown.append(key)


def _strip(state, report):
    """{key without 'module.': (key in the file, tensor)}; SKIP prefixes go straight to the report."""
    out = {}
    for key, value in state.items():
        short = key[len("module."):] if key.startswith("module.") else key
        reason = next((r for p, r in SKIP.items() if short.startswith(p)), None)
        if reason is not None:
            report.skipped[key] = reason
        else:
            out[short] = (key, value)
    return out


def _take(state, prefix):
    """Remove and return the entries under ``prefix`` with the prefix cut off."""
    keys = [k for k in state if k.startswith(prefix)]
    return {k[len(prefix):]: state.pop(k) for k in keys}


def _load_into(module, sub, what, report):
    """Copy ``sub`` ({our key: (file key, tensor)}) into ``module``; all of its weights must be there."""
    own = module.state_dict()
    missing = [k for k in own if k not in sub and not k.endswith("num_batches_tracked")]
    if missing:
        raise InputError(report.source, f"{len(missing)} weights of the {what} are missing, "
                                        f"e.g. {missing[0]!r}")
    for k, (file_key, value) in sub.items():
        if k not in own:
            report.unknown.append(file_key)
        elif value.shape != own[k].shape:
            raise InputError(report.source, f"{file_key} has shape {tuple(value.shape)}, the {what} "
                                            f"expects {tuple(own[k].shape)}")
    module.load_state_dict({k: v for k, (_, v) in sub.items() if k in own}, strict=False)
    report.loaded += [fk for k, (fk, _) in sub.items() if k in own]
    return module.eval()


def _weight(sub, key, report):
    if key not in sub:
        raise InputError(report.source, f"no weight {key!r}: is this the right kind of release checkpoint?")
    return sub[key][1]


def _norm(sub):
    return "BN" if any(k.endswith("running_mean") for k in sub) else "IN"


def _generator(sub, clips_code, leaky, report):
    in_channels = _weight(sub, "unet.e0.conv.weight", report).shape[1]
    template_dim = in_channels - FEATURES
    if clips_code is not None:
        if clips_code.ndim not in (2, 3):  # [N, D] clip-wise, [N, D, T] the release's CLIP_CODE.FRAME_VARIANT
            raise InputError(report.source, f"module.clips_code has shape {tuple(clips_code.shape)}: expected "
                                            "[N, D] (clip-wise) or [N, D, T] (frame-wise) templates")
        if clips_code.shape[1] != template_dim:
            raise InputError(report.source, f"module.clips_code has {clips_code.shape[1]} dimensions but the "
                                            f"generator takes {template_dim}")
    n_points = _weight(sub, "decoder.4.weight", report).shape[0] // 2
    cfg = GeneratorConfig(template_dim=template_dim, norm=_norm(sub), leaky=leaky, n_points=n_points)
    return _load_into(SequenceGeneratorCNN(cfg), sub, "generator", report)


def _vae_config(sub, key_in, code_dim, leaky, report):
    n_points = _weight(sub, key_in, report).shape[1] // 2
    return PoseVAEConfig(code_dim=code_dim, norm=_norm(sub), leaky=leaky, n_points=n_points)


def _audio2pose(state, leaky, report):
    gen_sub = _take(state, "netG.")
    if not gen_sub:
        raise InputError(report.source, "no generator weights (module.netG.*): for a pose VAE use kind='vae'")
    file_key, clips_code = state.pop("clips_code", (None, None))
    out = {"generator": _generator(gen_sub, clips_code, leaky, report), "templates": None,
           "discriminator": None, "pose_encoder": None}
    out["generator_config"] = out["generator"].cfg
    if clips_code is not None:
        out["templates"] = clips_code.detach().float().clone()
        report.loaded.append(file_key)
    elif out["generator_config"].template_dim:
        report.notes.append("no module.clips_code (SDT-VAE): the templates are the VAE checkpoint's "
                            "clip_code_mu")
    if d_sub := _take(state, "netD_pose."):
        n_points = _weight(d_sub, "seq.0.conv.weight", report).shape[1] // 2
        d_cfg = PoseDiscriminatorConfig(n_points=n_points, leaky=leaky)
        out["discriminator"] = _load_into(PoseSequenceDiscriminator(d_cfg), d_sub, "discriminator", report)
    if e_sub := _take(state, "pose_encoder."):
        code_dim = _weight(e_sub, "blocks.6.conv.weight", report).shape[0] // 2
        e_cfg = _vae_config(e_sub, "blocks.0.conv.weight", code_dim, leaky, report)
        out["pose_encoder"] = _load_into(PoseSeqEncoder(e_cfg), e_sub, "pose encoder", report)
    return out


def _vae(state, leaky, report):
    sub = _take(state, "ae.")
    if not sub:
        raise InputError(report.source, "no pose VAE weights (module.ae.*): for audio-to-pose use "
                                        "kind='audio2pose'")
    code_dim = _weight(sub, "decoder.d5.conv.weight", report).shape[1]
    cfg = _vae_config(sub, "encoder.blocks.0.conv.weight", code_dim, leaky, report)
    out = {"vae": _load_into(PoseSeqVAE(cfg), sub, "pose VAE", report), "vae_config": cfg}
    for name in ("clip_code_mu", "clip_code_logvar"):
        file_key, value = state.pop(name, (None, None))
        out[name] = None if value is None else value.detach().float().clone()
        if value is not None:
            report.loaded.append(file_key)
    return out


def load_release_checkpoint(path_or_dict, kind="audio2pose", leaky=True, map_location="cpu"):
    """Our models (eval mode, on CPU by default) with the weights of a release checkpoint.

    ``kind="audio2pose"`` -> {"generator", "generator_config", "templates" [N, D] or None, "discriminator" or
    None, "pose_encoder" or None, ...}; ``kind="vae"`` -> {"vae", "vae_config", "clip_code_mu",
    "clip_code_logvar", ...}.  Both also hold "epoch", "step" and "report" (a :class:`LoadReport`).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    source, ckpt = _read(path_or_dict, map_location)
    report = LoadReport(source)
    _top_level(ckpt, report)
    state = _strip(ckpt["model_state_dict"], report)
    out = _audio2pose(state, leaky, report) if kind == "audio2pose" else _vae(state, leaky, report)
    report.unknown += [file_key for file_key, _ in state.values()]
    if report.unknown:
        log.warning("%s: %d unknown keys left out: %s", source, len(report.unknown),
                    ", ".join(report.unknown[:10]))
    log.info(report.summary())
    return {"kind": kind, "epoch": ckpt.get("epoch"), "step": ckpt.get("step"), "report": report, **out}
