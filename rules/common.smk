# Config validation, speaker/video lookups and wildcard constraints: the only Python helpers of the workflow.
from pathlib import Path

from snakemake.utils import validate

validate(config, "../config/schemas/config.schema.yaml")

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")
SPLITS = ("train", "idle", "dev")
DATASET = config["dataset"]


def speaker_kind(speaker):
    """'videos', 'released' or 'sample' (the schema allows exactly one key per speaker)."""
    return next(iter(config["speakers"][speaker]))


def _video_folder_files(speaker):
    folder = Path(config["speakers"][speaker]["videos"])
    if not folder.is_dir():
        raise WorkflowError(f"speaker '{speaker}': videos folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not files:
        raise WorkflowError(
            f"speaker '{speaker}': no video files ({', '.join(VIDEO_EXTENSIONS)}) in {folder}"
        )
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


def train_params(method):
    """The hyper-parameters a training rule passes to its script (Snakemake reruns the rule when they change)."""
    return {"method": method, **TRAIN}


# The inputs of every training rule (the packed train and dev clips and the speaker statistics)
TRAIN_DATA = {
    "train_poses": "results/{speaker}/dataset/train_poses.npy",
    "train_audio": "results/{speaker}/dataset/train_audio.npy",
    "dev_poses": "results/{speaker}/dataset/dev_poses.npy",
    "dev_audio": "results/{speaker}/dataset/dev_audio.npy",
    "stats": "results/{speaker}/stats.npz",
}


def model_targets():
    return [f"results/{s}/models/{m}.pt" for s in config["speakers"] for m in METHODS]
