"""Checkpoints in the authors' release layout, written from the release's own key names and shapes (docs/networks.md
§4), never from this project's modules: what `torch.save` of the release's DataParallel-wrapped Voice2PoseModel and
Pose2PoseModel holds (core/pipelines/voice2pose.py, pose2pose.py; networks in core/networks/).  A loader test on
these catches a key or shape our networks name differently, which a fixture made from our own modules cannot.

Layers are (name, in channels, out channels, kernel); every ConvNormRelu is a bias-free convolution plus, with batch
norm, weight / bias / running_mean / running_var / num_batches_tracked (instance norm has no parameters).
Also the release's clip files and their table (docs/dataset.md §14): :data:`COLUMNS` of processed_137.csv,
:func:`release_clip`.
"""

import numpy as np
import torch

N_POINTS = 121
CODE_DIM = 32
# the audio encoder: specgram_encoder_2d.<block>.<layer>, 2-D convolutions
AUDIO_ENCODER = [(f"audio_encoder.specgram_encoder_2d.{b}.{i}", cin, cout, k) for b, i, cin, cout, k in [
    (0, 0, 1, 64, (3, 3)), (0, 1, 64, 64, (4, 4)), (1, 0, 64, 128, (3, 3)), (1, 1, 128, 128, (4, 4)),
    (2, 0, 128, 256, (3, 3)), (2, 1, 256, 256, (4, 4)), (3, 0, 256, 256, (3, 3)), (3, 1, 256, 256, (6, 3))]]
UNET_REST = [("unet.e1", 256, 256, (3,))] + [(f"unet.e{i}", 256, 256, (4,)) for i in range(2, 7)] + [
    (f"unet.d{i}", 256, 256, (3,)) for i in range(5, 0, -1)]
DECODER = [(f"decoder.{i}", 256, 256, (3,)) for i in range(4)]
CODE_MAPPER = [(f"code_mapper.blocks.{i}", 256, 256, (3,)) for i in range(7)]  # batch norm whatever netG's norm
POSE_ENCODER = [("blocks.0", 2 * N_POINTS, 256, (3,)), ("blocks.1", 256, 256, (3,))] + [
    (f"blocks.{i}", 256, 256, (4,)) for i in range(2, 6)] + [("blocks.6", 256, 2 * CODE_DIM, (4,))]
POSE_DECODER = [("d5", CODE_DIM, 256, (3,))] + [(f"d{i}", 256, 256, (3,)) for i in range(4, 0, -1)] + [
    (f"blocks.{i}", 256, 256, (3,)) for i in range(4)]
DISCRIMINATOR = [("seq.0", 2 * N_POINTS, 256, (4,)), ("seq.1", 256, 512, (4,)), ("seq.2", 512, 1024, (3,))]
MEL = {"mel_transfm.spectrogram.window": (400,), "mel_transfm.mel_scale.fb": (257, 80)}  # torchaudio's buffers


def _layers(prefix, layers, batch_norm, g):
    out = {}
    for name, cin, cout, kernel in layers:
        out[f"{prefix}{name}.conv.weight"] = torch.randn(cout, cin, *kernel, generator=g) * 0.05
        if batch_norm:
            out[f"{prefix}{name}.norm.weight"] = 1 + 0.1 * torch.randn(cout, generator=g)
            out[f"{prefix}{name}.norm.bias"] = 0.1 * torch.randn(cout, generator=g)
            out[f"{prefix}{name}.norm.running_mean"] = 0.1 * torch.randn(cout, generator=g)
            out[f"{prefix}{name}.norm.running_var"] = 0.5 + torch.rand(cout, generator=g)
            out[f"{prefix}{name}.norm.num_batches_tracked"] = torch.tensor(12345)
    return out


def _conv(prefix, cin, cout, kernel, g, scale=0.05):
    return {f"{prefix}.weight": torch.randn(cout, cin, kernel, generator=g) * scale,
            f"{prefix}.bias": torch.randn(cout, generator=g) * scale}


def _saved(state, optimizers, seed):
    """The release Trainer's checkpoint dict: every key under DataParallel's `module.`, optimiser states beside."""
    g = torch.Generator().manual_seed(seed + 1)
    state = {**state, **{k: torch.rand(*shape, generator=g) for k, shape in MEL.items()}}
    ckpt = {"epoch": 100, "step": 62500, "model_state_dict": {f"module.{k}": v for k, v in state.items()}}
    for name in optimizers:
        ckpt[f"{name}_state_dict"] = {"state": {}, "param_groups": [{"lr": 1e-6, "params": [0]}]}
    return ckpt


def audio2pose(kind, n_train=10, seed=0, output_bias=None):
    """A release audio-to-pose checkpoint: kind "sdt_bp" (IN generator, templates, code mapper, clips_code),
    "sdt_vae" (the same without clips_code: its templates are the VAE's) or "s2g" (BN generator, no templates, the
    motion discriminator).  SDT models carry the FTD pose encoder.  ``output_bias`` [242]: the last layer then
    outputs exactly this (zero weight), so the normalised prediction is known: channel c is coordinate c // 121 of
    point c % 121."""
    g = torch.Generator().manual_seed(seed)
    templated = kind != "s2g"
    state = {}
    state.update(_layers("netG.", AUDIO_ENCODER, not templated, g))
    state.update(_layers("netG.", [("unet.e0", 256 + (CODE_DIM if templated else 0), 256, (3,))] + UNET_REST,
                         not templated, g))
    state.update(_layers("netG.", DECODER, not templated, g))
    state.update(_conv("netG.decoder.4", 256, 2 * N_POINTS, 1, g))
    if output_bias is not None:
        state["netG.decoder.4.weight"].zero_()
        state["netG.decoder.4.bias"] = torch.as_tensor(output_bias, dtype=torch.float32).clone()
    optimizers = ["optimizerG"]
    if templated:
        state.update(_layers("netG.", CODE_MAPPER, True, g))
        state.update(_conv("netG.code_mapper.blocks.7", 256, CODE_DIM, 1, g))
        state.update(_layers("pose_encoder.", POSE_ENCODER, True, g))
    if kind == "sdt_bp":
        state["clips_code"] = torch.randn(n_train, CODE_DIM, generator=g)
        optimizers.append("optimizerClipCode")
    if kind == "s2g":
        state.update(_layers("netD_pose.", DISCRIMINATOR, True, g))
        state.update(_conv("netD_pose.seq.3", 1024, 1, 3, g))
        optimizers.append("optimizerD_pose")
    return _saved(state, optimizers, seed)


def pose_vae(n_train=10, seed=0):
    """A release pose VAE checkpoint (Pose2PoseModel): the autoencoder and every training clip's posterior."""
    g = torch.Generator().manual_seed(seed)
    state = {**_layers("ae.encoder.", POSE_ENCODER, True, g), **_layers("ae.decoder.", POSE_DECODER, True, g),
             **_conv("ae.decoder.blocks.4", 256, 2 * N_POINTS, 1, g),
             "clip_code_mu": torch.randn(n_train, CODE_DIM, generator=g),
             "clip_code_logvar": torch.randn(n_train, CODE_DIM, generator=g) - 2}
    return _saved(state, ["optimizer"], seed)


# -- the release's data -----------------------------------------------------------------------------------------
COLUMNS = ["dataset", "start", "end", "interval_id", "pose_fn", "audio_fn", "video_fn", "speaker"]


def release_clip(path, seed, frames=64, audio_len=68267):
    """A clip npz in the release's layout: pose [frames, 3, 137] float64, audio float32, imgs (frame paths)."""
    rng = np.random.default_rng(seed)
    pose = rng.uniform(10, 1000, size=(frames, 3, 137))
    pose[:, 2] = rng.uniform(0, 1, size=(frames, 137))
    audio = rng.standard_normal(audio_len).astype(np.float32)
    imgs = np.array([f"frames/v/v_{i:06d}.jpg" for i in range(frames)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, pose=pose, imgs=imgs, audio=audio)
    return pose, audio
