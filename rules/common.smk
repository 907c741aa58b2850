# Lookups and input functions the rules share: speakers and their videos, code digests, wildcard constraints, the
# dataset's helpers.  Training's settings and inputs are in common_train.smk, evaluation's and the demo's in
# common_evaluate.smk, target lists in targets.smk, the config in config.smk.
import os
from pathlib import Path

from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS, SPLITS
from sdt.families import FAMILIES
from sdt.methods import BP_TEMPLATES, POSE_VAE, REFERENCES
from sdt.provenance import code_digest
from sdt.train.config import NOT_SETTINGS, SPEED_ONLY  # train: keys that are no setting / that only change speed
from snakemake.logging import logger

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")

# Step scripts import this workflow's own packages (sdt, models) in whatever environment runs them (.venv, a conda
# environment built by --sdm conda from envs/sdt.yaml, a cluster node): Snakemake puts only workflow_scripts/ on
# their path, so the workflow's folder goes first on the PYTHONPATH they inherit.
# (Set, not required from the user: hence no `envvars:` directive.)
_PYTHONPATH = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if _PYTHONPATH[0] != workflow.basedir:
    os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, (workflow.basedir, *_PYTHONPATH))))


def code(script, *modules):
    """A param that changes when the code a step runs changes: a digest of workflow_scripts/<script>.py and of every
    project module it imports (sdt.provenance), plus ``modules`` (dotted names) that it loads by name: a method
    family's step module and network (sdt/train/steps/<family>.py, models/<network>.py).  Snakemake's own `code`
    trigger watches the step script alone."""
    return code_digest(Path(workflow.basedir) / "workflow_scripts" / f"{script}.py", workflow.basedir, modules)


def family_code(script, family):
    """code() of a step that runs one method family: its network module (and, for training, its step module)."""
    return code(script, *FAMILIES[family].code_modules())


def method_code(script):
    """Param function: code() of ``script`` for the {method} of a job (reference rows use no network)."""

    def digest(wildcards):
        method = METHODS.get(wildcards.method)
        return code(script) if method is None else family_code(script, method.family)

    return digest


def family_methods(family):
    """Wildcard regex of the methods of ``family`` (a rule per family trains them)."""
    names = [name for name, m in METHODS.items() if m.family == family]
    return "|".join(names) if names else "(?!)"


SOURCES = ("videos", "released", "sample")  # where a speaker's clips come from: exactly one per speaker (schema)


def speaker_kind(speaker):
    """'videos', 'released' or 'sample'."""
    return next(k for k in SOURCES if k in config["speakers"][speaker])


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
