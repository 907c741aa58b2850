"""Evaluating one method on a speaker's dev clips (docs/evaluation.md §1) -> one JSON of metrics.

Methods: an audio-to-pose model of any family (sdt.methods: ``s2g``, ``sdt_bp``, ``sdt_vae``, the ablations,
``audio2body``, ``moglow``, the config's own variants; our checkpoint or the release's), predicting through
sdt.inference.GestureModel, or a reference row: ``ground_truth`` (the true poses themselves: L2 0 and FTD ~0, a
check of the whole chain) and ``mean_pose`` (the speaker's mean global pose, ``stats.npz`` mean_global, on every
frame).  Every metric is computed on final results (neck-relative px on Oliver's scale, sdt.poses.final_results);
FTD of every method uses the same pose VAE; BC uses the onsets of each clip's speech (sdt.evaluate.metrics).

Template at test time (docs/networks.md §3), ``EvalSettings.template``:
  random_train  a random row of the model's template table (SDT-BP: its learnt table; SDT-VAE: the VAE's means)
  normal        a standard-normal vector
  vae_of_truth  the pose VAE encoder's mu of the clip's true poses
Diversity: K predictions per clip under K templates drawn as for random_train (as for normal with
template=normal; vae_of_truth gives one template per clip, so its K draws come from the table too), mean
pairwise L2.  Every random draw comes from a CPU torch.Generator seeded with one seed, for the whole split at
once: a seed gives the same templates whatever the batch size or device.  MoGlow draws its latent z instead (K
per clip, z = EvalSettings.temperature x N(0, I)), each clip's from its own generator (seed, sample, clip): the
same z whatever the batch.  Methods that draw nothing are deterministic: they run once (seed null) and their
diversity is 0; ground_truth has none (null).

FTD's encoder takes normalised parted poses.  A global-pose model (Speech2Gesture, the global Table 3 rows) has
two inputs (``EvalSettings.ftd_global_input``, issue 14): ``release`` (default, comparable with the paper: the release's
``transform_normalized_parted2global`` of the normalised global poses, applied to prediction and truth alike,
sdt.poses.release_global_to_encoder) and ``parted`` (the final poses made parted, as for every other model).
Both are computed and stored (FTD_release, FTD_parted, ...); FTD is the chosen one.
"""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sdt.constants import FTD_INPUTS
from sdt.device import pick_device
from sdt.errors import InputError
from sdt.evaluate import metrics
from sdt.evaluate.metrics import FTD_BY_INPUT, METRICS, PER_CLIP, ClipContext, aggregate, split_mean
from sdt.evaluate.settings import EvalSettings
from sdt.inference import load_gesture_model, load_pose_encoder
from sdt.io import sha256, write_text
from sdt.methods import REFERENCES, Method
from sdt.poses import load_stats, to_121

log = logging.getLogger(__name__)

class DevClips:
    """The memory-mapped clips of a split, read in batches by a background thread while the last one is used."""

    def __init__(self, poses_npy, audio_npy=None):
        self.poses = np.load(poses_npy, mmap_mode="r")  # [N, T, 3, 137]
        if self.poses.ndim != 4 or self.poses.shape[2] < 2 or self.poses.shape[3] != 137:
            raise InputError(poses_npy, f"expected poses [N, T, 3, 137], got shape {self.poses.shape}")
        if len(self.poses) < 2:
            raise InputError(poses_npy, f"{len(self.poses)} clips: FTD needs at least 2")
        self.audio = None if audio_npy is None else np.load(audio_npy, mmap_mode="r")  # [N, S]
        if self.audio is not None and len(self.audio) != len(self.poses):
            raise InputError(audio_npy, f"{len(self.audio)} clips of audio but {len(self.poses)} of poses")
        self._onsets = None  # computed on first use, then kept: validation evaluates the same clips every epoch

    def __len__(self):
        return len(self.poses)

    def onsets(self):
        """Onset times (s) of every clip's speech (for BC): a list of arrays; none at all without audio."""
        if self._onsets is None:
            self._onsets = ([np.zeros(0)] * len(self) if self.audio is None
                            else [metrics.audio_onsets(np.asarray(a, dtype=np.float32)) for a in self.audio])
        return self._onsets

    def _read(self, start, size, scale):
        true = to_121(np.asarray(self.poses[start:start + size, :, :2], dtype=np.float32)) * np.float32(scale)
        # np.array copies: the read from disk happens here, in the loading thread, not later on first use
        audio = None if self.audio is None else np.array(self.audio[start:start + size], dtype=np.float32)
        return start, true, audio  # true: final results [B, T, 2, 121] (global, neck-relative, scaled)

    def batches(self, size, scale):
        """Yield (start, true final poses [B, T, 2, 121], audio [B, S] or None)."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self._read, 0, size, scale)
            for nxt in range(size, len(self) + size, size):
                batch = pending.result()
                if nxt < len(self):
                    pending = pool.submit(self._read, nxt, size, scale)
                yield batch


def file_info(path):
    """Which file was used: its path, size and SHA-256."""
    return {"path": str(path), "bytes": Path(path).stat().st_size, "sha256": sha256(path)}


def load_model(method, path, pose_vae, stats, device, index_csv=None, temperature=1.0):
    """A :class:`sdt.inference.GestureModel` checked against ``method`` (a :class:`sdt.methods.Method` or a paper
    method's name: its family and whether it has templates); a release SDT-VAE gets its templates (the VAE's clip
    means) from ``pose_vae``; with ``index_csv`` its table must have one row per train row; ``temperature``:
    MoGlow's."""
    method = Method.of(method)
    model = load_gesture_model(path, device, stats=stats, pose_vae=pose_vae, index_csv=index_csv,
                               temperature=temperature)
    if model.definition.family != method.family:
        raise InputError(path, f"a {model.definition.family} model is not {method.name} (a {method.family} method)")
    dim = getattr(model.net.cfg, "template_dim", 0)
    if method.template == "none" and dim:
        raise InputError(path, f"a generator with {dim}-dimensional templates is not a {method.label or method.name} "
                               f"model ({method.name} has no templates)")
    if method.template != "none" and not dim:
        raise InputError(path, f"a generator without templates is not an {method.name} model")
    if dim and model.templates is None:
        raise InputError(path, "holds no template table: give the pose VAE whose clip means are its templates")
    if dim and model.templates.shape[1] != dim:
        raise InputError(path, f"templates of {model.templates.shape[1]} dimensions for a generator taking {dim}")
    if model.release and method.template == "vae":
        log.info("%s has no template table: using the %d clip means of %s", path, len(model.templates), pose_vae)
    return model


def template_draws(model, n, settings, seed):
    """[K, N, D] (or [K, N, D, 64] frame-wise) templates for diversity (and for the main prediction unless
    template=vae_of_truth)."""
    k = max(settings.diversity_samples, 1)
    g = torch.Generator().manual_seed(seed)
    if settings.template == "normal":
        return torch.randn(k, n, *model.templates.shape[1:], generator=g)
    table = model.templates.detach().float().cpu()
    return table[torch.randint(len(table), (k, n), generator=g)]


def batch_latents(model, draws, settings, seed, start, size):
    """The K latents [K, B, ...] of clips start .. start + size: rows of the split's template draws, or MoGlow's z."""
    if draws is not None:
        return draws[:, start:start + size]
    clips = range(start, start + size)
    return torch.stack([model.noise(seed, clips, sample=k) for k in range(max(settings.diversity_samples, 1))])


def encoder_codes(encoder, poses_final, inputs):
    """{FTD input: [B, 2D] codes (mu, logvar)} of final-result poses for each of ``inputs`` (FTD_INPUTS)."""
    return {i: torch.cat(encoder.encode_final(poses_final, release_global=i == "release"), dim=1).float().cpu().numpy()
            for i in inputs}


def ftd_scores(pred_codes, true_codes, chosen):
    """FTD and FTD_mu_logvar for every encoder input in the codes ({input: [N, 2D]}) as FTD_<input> fields,
    and as FTD / FTD_mu_logvar for ``chosen`` (an input the codes lack is that of a parted model: the same as
    the parted one)."""
    out = {}
    for i in FTD_INPUTS:
        p, t = pred_codes.get(i, pred_codes["parted"]), true_codes.get(i, true_codes["parted"])
        d = t.shape[1] // 2
        out[f"FTD_{i}"], out[f"FTD_mu_logvar_{i}"] = metrics.ftd(p[:, :d], t[:, :d]), metrics.ftd(p, t)
    out["FTD"], out["FTD_mu_logvar"] = out[f"FTD_{chosen}"], out[f"FTD_mu_logvar_{chosen}"]
    return out


# A run's keys in order: the metrics, FTD on each encoder input just before FTD
RESULT_KEYS = tuple(k for m in METRICS for k in ((*FTD_BY_INPUT, m) if m == "FTD" else (m,)))


class _Scores:
    """Per-clip metrics, predicted codes and predictions of one run (one seed), gathered batch by batch."""

    def __init__(self, seed):
        self.seed, self.codes, self.preds, self.diversity = seed, {}, [], []
        self.clip = {m.name: [] for m in PER_CLIP}

    def add(self, pred, true, codes, context, samples=None):
        for m in PER_CLIP:
            self.clip[m.name].append(m.per_clip(pred, true, context))
        self.preds.append(torch.as_tensor(pred).float().cpu().numpy())  # [B, T, 2, P]: L1div is over the split
        if samples is not None:
            self.diversity.append(metrics.diversity(torch.stack(samples)))
        for i, c in codes.items():  # {FTD input: [B, 2D]}: mu, logvar
            self.codes.setdefault(i, []).append(c)

    def result(self, true_codes, ftd_input, diversity=None):
        out = {"seed": self.seed, **{m.name: split_mean(m, np.concatenate(self.clip[m.name])) for m in PER_CLIP}}
        if true_codes:
            out.update(ftd_scores({i: np.concatenate(c) for i, c in self.codes.items()}, true_codes, ftd_input))
        else:  # no pose VAE (validation without FTD)
            out.update(dict.fromkeys(("FTD", "FTD_mu_logvar", *FTD_BY_INPUT)))
        out["diversity"] = float(np.concatenate(self.diversity).mean()) if self.diversity else diversity
        out["L1div"] = metrics.l1_diversity(np.concatenate(self.preds))
        return {k: out[k] for k in ("seed", *RESULT_KEYS)}


def _predictions(model, audio, true_mu, latents, settings):
    """The main prediction and the K diversity samples of one batch (the main one is sample 0 unless
    template=vae_of_truth gives a templated model the VAE's mu of the truth)."""
    samples = model.predict_samples(audio, latents)  # a U-Net's audio encoder runs once for the K samples
    main = model.predict(audio, true_mu) if settings.template == "vae_of_truth" and model.template_dim else samples[0]
    return main, samples if settings.diversity_samples else None


def evaluate_split(method, clips, encoder, stats, settings, model=None, progress=True, desc=""):
    """Run ``method`` on ``clips`` (:class:`DevClips`) -> list of per-run metric dicts (one per seed, or one
    with seed None for a deterministic method).  The training's validation calls this too (sdt/train/validate.py),
    with ``encoder`` None when it computes no FTD.  FTD of a global-pose model is computed on both encoder inputs
    (FTD_INPUTS); FTD itself on ``settings.ftd_global_input``."""
    device, scale = (encoder or model).device, float(stats["scale_factor"])
    inputs = ("parted",) if model is None or model.parted else FTD_INPUTS
    templated = model is not None and model.template_dim > 0
    if templated and settings.template == "vae_of_truth" and model.template_dim != encoder.vae.cfg.code_dim:
        raise ValueError(f"template=vae_of_truth: the VAE's codes have {encoder.vae.cfg.code_dim} dimensions, the "
                         f"generator's templates {model.template_dim}")
    seeds = settings.seeds if model is not None and model.definition.stochastic else (None,)
    draws = {s: template_draws(model, len(clips), settings, s) if templated else None for s in seeds}
    runs = {s: _Scores(s) for s in seeds}
    mean_pose = torch.as_tensor(stats["mean_global"] * scale, device=device)  # [2, 121]
    onsets = clips.onsets()
    true_codes, timing = {}, {"wait": 0.0, "compute": 0.0}
    bar = tqdm(total=len(clips), unit="clip", desc=desc, disable=None if progress else True)
    t0 = time.perf_counter()
    for start, true_np, audio in clips.batches(settings.batch_size, scale):
        t1 = time.perf_counter()
        true = torch.from_numpy(true_np).to(device)
        audio = None if audio is None else torch.from_numpy(audio).to(device)
        if encoder is not None:
            for i, c in encoder_codes(encoder, true, inputs).items():
                true_codes.setdefault(i, []).append(c)
        mu = encoder.encode_final(true)[0] if templated and settings.template == "vae_of_truth" else None
        for seed, scores in runs.items():
            pred, samples = true, None  # ground_truth
            if method == "mean_pose":
                pred = mean_pose.expand_as(true)
            elif seed is not None:  # templates or MoGlow's latents
                latents = batch_latents(model, draws[seed], settings, seed, start, len(true)).to(device)
                pred, samples = _predictions(model, audio, mu, latents, settings)
            elif model is not None:
                pred = model.predict(audio)
            codes = {} if encoder is None else encoder_codes(encoder, pred, inputs)
            scores.add(pred, true, codes, ClipContext(settings.pck_threshold, onsets[start:start + len(true)]), samples)
        bar.update(len(true))
        t2 = time.perf_counter()
        timing["wait"], timing["compute"], t0 = timing["wait"] + t1 - t0, timing["compute"] + t2 - t1, t2
    bar.close()
    n = len(clips)
    log.info("%s: %d clips in %.1f s (%.1f clips/s); waiting for data %.1f s, computing %.1f s", method, n,
             sum(timing.values()), n / max(sum(timing.values()), 1e-9), timing["wait"], timing["compute"])
    true_codes = {i: np.concatenate(c) for i, c in true_codes.items()}
    # without templates every sample is the same prediction: diversity 0 (ground_truth has no samples at all)
    fixed = 0.0 if method != "ground_truth" and settings.diversity_samples else None
    return [r.result(true_codes, settings.ftd_global_input, diversity=fixed) for r in runs.values()]


def evaluate(speaker, method, dev_poses, stats_path, pose_vae, output, dev_audio=None, model_path=None,
             settings=None, threads=None, device=None, progress=True, index_csv=None):
    """Evaluate ``method`` (a reference row's name, or an audio-to-pose method: a :class:`sdt.methods.Method`,
    its definition dict or a paper method's name) on one speaker's dev split and write ``output`` (JSON): every
    metric of :data:`METRICS` and FTD on both encoder inputs (FTD_BY_INPUT) (mean over seeds) at the top level,
    ``ftd_input`` (the input FTD used), ``std``, ``per_seed``, n_clips, seeds, settings, the method's definition,
    the statistics used (``stats``: path, source computed | release, scale_factor) and the checkpoints used (model
    and the pose VAE of FTD, with their SHA-256).  ``index_csv`` (clips.csv): the model's template table must have
    one row per train row of it.  Without ``dev_audio`` (a reference row may do without) BC is null."""
    settings = EvalSettings.of(settings)
    definition = None if method in REFERENCES else Method.of(method)
    name = method if definition is None else definition.name
    if definition is not None and (model_path is None or dev_audio is None):
        raise ValueError(f"{name} needs a model checkpoint and the dev audio")
    device = pick_device(device, threads)
    start = time.perf_counter()
    stats = load_stats(stats_path)
    encoder = load_pose_encoder(pose_vae, device, stats=stats)
    model = None if definition is None else load_model(definition, model_path, pose_vae, stats, device, index_csv,
                                                       settings.temperature)
    clips = DevClips(dev_poses, dev_audio)
    for n_frames in (encoder.vae.cfg.n_frames, None if model is None else model.n_frames):
        if n_frames is not None and n_frames != clips.poses.shape[1]:
            raise InputError(dev_poses, f"clips of {clips.poses.shape[1]} frames, the networks take {n_frames}")
    log.info("%s / %s: %d dev clips, device %s, settings %s, %s statistics (%s)", speaker, name, len(clips), device,
             asdict(settings), stats["stats_source"], stats_path)
    per_seed = evaluate_split(name, clips, encoder, stats, settings, model, progress, f"{speaker} {name}")
    mean, std = aggregate(per_seed, METRICS + FTD_BY_INPUT)
    result = {
        "speaker": speaker, "method": name, "split": "dev", **mean, "n_clips": len(clips),
        "representation": None if model is None else "parted" if model.parted else "global",
        "ftd_input": settings.ftd_global_input if model is not None and not model.parted else "parted",
        "seeds": [r["seed"] for r in per_seed if r["seed"] is not None], "std": std, "per_seed": per_seed,
        "settings": asdict(settings), "definition": None if model is None else model.definition.as_dict(),
        "device": str(device),
        "stats": {"path": str(stats_path), "source": stats["stats_source"], "scale_factor": stats["scale_factor"]},
        "checkpoints": {"model": None if model is None else {**file_info(model_path), "loaded_as": model.method},
                        "pose_vae": file_info(pose_vae)},
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_text(output, json.dumps(result, indent=2, allow_nan=False) + "\n")
    log.info("%s / %s: %s", speaker, name, ", ".join(f"{m} {mean[m]}" for m in METRICS))
    return result
