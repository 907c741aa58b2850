# Lookups and input functions the rules share: speakers and their videos, code digests, wildcard constraints, the
# per-method settings of training and evaluation.  Target lists are in targets.smk, the config in config.smk.
from pathlib import Path

from sdt.constants import SPLITS
from sdt.methods import AUDIO_TO_POSE, REFERENCES, TRAINED
from sdt.provenance import code_digest

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")


def code(script):
    """A param that changes when the code a step runs changes: a digest of workflow_scripts/<script>.py and of every
    project module it imports (sdt.provenance).  Snakemake's own `code` trigger watches the step script alone."""
    return code_digest(Path(workflow.basedir) / "workflow_scripts" / f"{script}.py", workflow.basedir)


def speaker_kind(speaker):
    """'videos', 'released' or 'sample' (the schema allows exactly one key per speaker)."""
    return next(iter(config["speakers"][speaker]))


def _video_folder_files(speaker):
    folder = Path(config["speakers"][speaker]["videos"])
    if not folder.is_dir():
        raise WorkflowError(f"speaker '{speaker}': videos folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not files:
        raise WorkflowError(f"speaker '{speaker}': no video files ({', '.join(VIDEO_EXTENSIONS)}) in {folder}")
    stems = [p.stem for p in files]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise WorkflowError(f"speaker '{speaker}': several files share the name {clash} in {folder}")
    return {p.stem: str(p) for p in files}


def speaker_videos(speaker):
    """The {video} wildcard values of a speaker built from videos (raw or sample)."""
    kind = speaker_kind(speaker)
    if kind == "sample":
        return [f"sample{i:02d}" for i in range(config["sample"]["videos"])]
    if kind == "videos":
        return list(_video_folder_files(speaker))
    return []


def source_video(wildcards):
    """The raw video of one {speaker}/{video}: the user's file, or the synthesised sample video."""
    if speaker_kind(wildcards.speaker) == "sample":
        return f"results/{wildcards.speaker}/source/{wildcards.video}.mp4"
    return _video_folder_files(wildcards.speaker)[wildcards.video]


def per_video(pattern):
    """Input function: ``pattern`` (with {speaker} and {video}) expanded over a speaker's videos."""

    def inputs(wildcards):
        return [pattern.format(speaker=wildcards.speaker, video=v) for v in speaker_videos(wildcards.speaker)]

    return inputs


def released_index(wildcards):
    """processed_137.csv of a released speaker (SDT_SPEC 2.1)."""
    return f'{config["speakers"][wildcards.speaker]["released"]}/processed_137.csv'


def _speaker_regex(kinds):
    names = [s for s in config["speakers"] if speaker_kind(s) in kinds]
    return "|".join(names) if names else "(?!)"  # (?!) never matches


VIDEO_SPEAKERS = _speaker_regex(("videos", "sample"))
RELEASED_SPEAKERS = _speaker_regex(("released",))
SAMPLE_SPEAKERS = _speaker_regex(("sample",))


wildcard_constraints:
    speaker="[A-Za-z0-9_-]+",
    video="[^/]+",
    split="|".join(SPLITS),


def frames_output(pattern):
    """Extracted JPEG frames are bulky: temporary unless the config keeps them."""
    return directory(pattern) if DATASET["keep_frames"] else temp(directory(pattern))


def dataset_outputs():
    """The packed arrays of split_dataset / pack_released, named {split}_{poses|audio}."""
    return {f"{s}_{k}": f"results/{{speaker}}/dataset/{s}_{k}.npy" for s in SPLITS for k in ("poses", "audio")}


def scale_rule(wildcards):
    """How compute_stats sets the speaker's scale_factor (SDT_SPEC 2.8)."""
    kind = speaker_kind(wildcards.speaker)
    if kind == "released":
        return "released"
    return "rescaled_to_oliver" if DATASET["rescale_shoulders"] else "shoulder_width"


# Loss weights that only one model uses: left out of the other models' params, so changing one reruns only that
# model (and what depends on it).
METHOD_ONLY = {"vae_kl_weight": "pose_vae", "template_kl_weight": "sdt_bp", "gan_weight": "s2g"}


def train_params(method):
    """The hyper-parameters a training rule passes to its script (Snakemake reruns the rule when they change)."""
    settings = {k: v for k, v in TRAIN.items() if METHOD_ONLY.get(k, method) == method}
    return {"method": method, **settings}


# The inputs of every training rule (the packed train and dev clips and the speaker statistics)
TRAIN_DATA = {
    "train_poses": "results/{speaker}/dataset/train_poses.npy",
    "train_audio": "results/{speaker}/dataset/train_audio.npy",
    "dev_poses": "results/{speaker}/dataset/dev_poses.npy",
    "dev_audio": "results/{speaker}/dataset/dev_audio.npy",
    "stats": "results/{speaker}/stats.npz",
}

EVAL_BATCH_SIZE = 64  # clips per forward pass; results do not depend on it (templates are drawn per clip)


def eval_checkpoint(speaker, method):
    """A checkpoint from evaluate.checkpoints (e.g. the authors' release), else the speaker's trained model."""
    return EVALUATE["checkpoints"].get(speaker, {}).get(method, f"results/{speaker}/models/{method}.pt")


def evaluate_inputs(wildcards):
    """Dev clips, statistics and the pose VAE of FTD for every row; the model and the dev audio for models."""
    speaker, method = wildcards.speaker, wildcards.method
    inputs = {
        "dev_poses": f"results/{speaker}/dataset/dev_poses.npy",
        "stats": f"results/{speaker}/stats.npz",
        "pose_vae": eval_checkpoint(speaker, "pose_vae"),
    }
    if method in AUDIO_TO_POSE:
        inputs["dev_audio"] = f"results/{speaker}/dataset/dev_audio.npy"
        inputs["model"] = eval_checkpoint(speaker, method)
    return inputs


def evaluate_settings(wildcards):
    """The settings a result depends on: reference rows ignore templates and seeds, so changing those does not
    rerun them."""
    if wildcards.method in REFERENCES:
        return {"pck_threshold": EVALUATE["pck_threshold"], "batch_size": EVAL_BATCH_SIZE}
    keys = ("template", "seeds", "diversity_samples", "pck_threshold")
    return {**{k: EVALUATE[k] for k in keys}, "batch_size": EVAL_BATCH_SIZE}


def evaluate_gpus(wildcards):
    """Models run on a GPU; the reference rows only need the pose VAE's encoder, which is quick on a CPU."""
    return 0 if wildcards.method in REFERENCES else 1
