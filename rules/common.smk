# Config validation, speaker/video lookups and wildcard constraints: the only Python helpers of the workflow.
import hashlib
from pathlib import Path

import yaml

from snakemake.utils import validate


def _typed(value, schema):
    """`--config 'dataset={"clip_stride": 6}'` hands nested values over as strings: read a string as YAML where
    the schema wants a number, boolean or array, so such overrides validate like config-file values."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: _typed(v, props.get(k, extra if isinstance(extra, dict) else {})) for k, v in value.items()}
    wanted = schema.get("type")
    if isinstance(value, str) and wanted in ("integer", "number", "boolean", "array"):
        parsed = yaml.safe_load(value)
        return parsed if not isinstance(parsed, str) else value
    return value


SCHEMA = Path(workflow.basedir) / "config" / "schemas" / "config.schema.yaml"
config.update(_typed(dict(config), yaml.safe_load(SCHEMA.read_text())))
validate(config, str(SCHEMA))

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")
SPLITS = ("train", "idle", "dev")
DATASET = config["dataset"]


def code(*files):
    """A step's own source files (repo-relative) as a param: a digest of their content, so Snakemake reruns the
    step when its importable code changes (its rerun trigger `code` watches only the step script's mtime).
    Content, not paths or mtimes: moving the checkout or touching a file reruns nothing."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (Path(workflow.basedir) / name).read_bytes())
    return digest.hexdigest()[:16]


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


def dataset_files(speaker):
    return [f"results/{speaker}/dataset/{s}_{kind}.npy" for s in SPLITS for kind in ("poses", "audio")] + [
        f"results/{speaker}/dataset/clips.csv"
    ]


def dataset_targets():
    """Per speaker: the statistics and (for speakers built from videos) the QC table."""
    targets = []
    for speaker in config["speakers"]:
        targets.append(f"results/{speaker}/stats.npz")
        if speaker_kind(speaker) != "released":
            targets.append(f"results/{speaker}/qc.csv")
    return targets


def _speaker_regex(kinds):
    names = [s for s in config["speakers"] if speaker_kind(s) in kinds]
    return "|".join(names) if names else "(?!)"  # (?!) never matches


VIDEO_SPEAKERS = _speaker_regex(("videos", "sample"))
RELEASED_SPEAKERS = _speaker_regex(("released",))
SAMPLE_SPEAKERS = _speaker_regex(("sample",))


def frames_output(pattern):
    """Extracted JPEG frames are bulky: temporary unless the config keeps them."""
    return directory(pattern) if DATASET["keep_frames"] else temp(directory(pattern))


def scale_rule(wildcards):
    """How compute_stats sets the speaker's scale_factor (SDT_SPEC 2.8)."""
    kind = speaker_kind(wildcards.speaker)
    if kind == "released":
        return "released"
    return "rescaled_to_oliver" if DATASET["rescale_shoulders"] else "shoulder_width"


def _train_settings():
    """config['train'] with the chosen preset's overrides applied (preset 'release' = no overrides)."""
    train = dict(config["train"])
    preset = train.pop("preset")
    if preset != "release":
        if preset not in config["train_presets"]:
            raise WorkflowError(
                f"train.preset '{preset}' is not 'release' nor one of train_presets: "
                f"{sorted(config['train_presets'])}"
            )
        train.update(config["train_presets"][preset])
    return train


TRAIN = _train_settings()
METHODS = ("pose_vae", "sdt_bp", "sdt_vae", "s2g")


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


# The training code every model shares (each rule adds its networks' files).
TRAIN_CODE = ("sdt/train/train.py", "sdt/train/engine.py", "sdt/train/data.py")


def model_targets():
    """Every speaker's trained models, except those replaced by a checkpoint in evaluate.checkpoints."""
    replaced = config["evaluate"]["checkpoints"]
    return [f"results/{s}/models/{m}.pt" for s in config["speakers"] for m in METHODS if m not in replaced.get(s, {})]


# Evaluation (rules/evaluate.smk): which checkpoints and settings each evaluate job uses, and the targets.
EVALUATE = config["evaluate"]
EVAL_MODELS = ("s2g", "sdt_bp", "sdt_vae")  # the audio-to-pose methods (the pose VAE is not one)
EVAL_REFERENCES = ("ground_truth", "mean_pose")  # reference rows of the table
EVAL_BATCH_SIZE = 64  # clips per forward pass; results do not depend on it (templates are drawn per clip)

for _speaker in EVALUATE["checkpoints"]:
    if _speaker not in config["speakers"]:
        raise WorkflowError(f"evaluate.checkpoints names speaker '{_speaker}', which is not under speakers:")


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
    if method in EVAL_MODELS:
        inputs["dev_audio"] = f"results/{speaker}/dataset/dev_audio.npy"
        inputs["model"] = eval_checkpoint(speaker, method)
    return inputs


def evaluate_settings(wildcards):
    """The settings a result depends on: reference rows ignore templates and seeds, so changing those does not
    rerun them."""
    if wildcards.method in EVAL_REFERENCES:
        return {"pck_threshold": EVALUATE["pck_threshold"], "batch_size": EVAL_BATCH_SIZE}
    keys = ("template", "seeds", "diversity_samples", "pck_threshold")
    return {**{k: EVALUATE[k] for k in keys}, "batch_size": EVAL_BATCH_SIZE}


def evaluate_gpus(wildcards):
    """Models run on a GPU; the reference rows only need the pose VAE's encoder, which is quick on a CPU."""
    return 0 if wildcards.method in EVAL_REFERENCES else 1


def evaluation_targets():
    """Every speaker's evaluation JSONs: the reference rows and the configured methods."""
    return [
        f"results/{speaker}/evaluation/{method}.json"
        for speaker in config["speakers"]
        for method in (*EVAL_REFERENCES, *EVALUATE["methods"])
    ]


def table_targets():
    return ["results/tables/paper_table.csv", "results/tables/paper_table.md"]


# Demo videos and report figures (rules/demo.smk).
DEMO = config["demo"]
DEMO_METHODS = "sdt_bp|sdt_vae|s2g"  # the audio-driven models (the pose VAE is not one)
# The speech of every demo: --config demo_audio=..., else demo.audio, else espeak-ng speech made below.
DEMO_AUDIO = config["demo_audio"] or DEMO["audio"] or "results/demo/speech.wav"
# A missing file must stop the run: Snakemake would otherwise keep an existing demo made from other speech.
if (config["demo_audio"] or DEMO["audio"]) and not Path(DEMO_AUDIO).is_file():
    raise WorkflowError(f"demo audio {DEMO_AUDIO} does not exist (config demo_audio / demo.audio)")
DEMO_CODE = ("sdt/demo/demo.py", "sdt/render.py", "sdt/inference.py", "sdt/poses.py")


def demo_targets():
    """Targets of the main job: the first speaker's demo video of demo.method, prediction-vs-truth renderings of dev clips,
    training curves and template projection."""
    speaker = next(iter(config["speakers"]))
    return [
        f"results/{speaker}/demo/{DEMO['method']}.mp4",
        f"results/{speaker}/render/{DEMO['method']}.mp4",
        f"results/{speaker}/plots/training.png",
        f"results/{speaker}/plots/templates.png",
    ]
