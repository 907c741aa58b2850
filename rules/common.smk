# The plan of this run (sdt/plan/: every decision, built once from the config and tested directly) and the thin
# adapters that hand it the rules' wildcards.  Nothing is decided here.
import os

from sdt.constants import SPLITS
from sdt.families import FAMILIES
from sdt.methods import REFERENCES
from sdt.plan import ConfigError, Plan
from sdt.plan.speakers import invoked_as_dry_run
from snakemake.logging import logger

try:
    PLAN = Plan(config, workflow.basedir, os.getcwd())
    # each user video's link, and each speaker's list of videos and user video's content identity, rewritten when
    # they change, not in a dry run (sdt.plan.Plan.write_stamps)
    PLAN.write_stamps(dry_run=invoked_as_dry_run)
except ConfigError as e:  # one line naming the key, not a traceback
    raise WorkflowError(str(e)) from None
config.update(PLAN.config)  # typed, with the schema's defaults
for _line in PLAN.describe():
    logger.info(_line)

# Step scripts import this workflow's own packages (sdt, models) in whatever environment runs them (.venv, a conda
# environment built by --sdm conda from envs/sdt.yaml, a cluster node): Snakemake puts only workflow_scripts/ on
# their path, so the workflow's folder goes first on the PYTHONPATH they inherit (set, not required from the user:
# hence no `envvars:` directive).
_PYTHONPATH = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if _PYTHONPATH[0] != workflow.basedir:
    os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, (workflow.basedir, *_PYTHONPATH))))


wildcard_constraints:
    speaker="[A-Za-z0-9_-]+",
    video="[^/]+",
    split="|".join(SPLITS),


def code(script):
    """Param: the digest of the code a step runs (sdt.plan.Plan.code)."""
    return PLAN.code(script)


def method_code(script):
    """Param function: the code digest of ``script`` for the {method} of a job (its family's code included)."""

    def digest(wildcards):
        return PLAN.method_code(script, wildcards.method)

    return digest


def per_video(pattern):
    """Input function: ``pattern`` (with {speaker} and {video}) expanded over the speaker's videos."""

    def inputs(wildcards):
        return [pattern.format(speaker=wildcards.speaker, video=v) for v in PLAN.videos(wildcards.speaker)]

    return inputs


def frames_output(pattern):
    """Extracted JPEG frames are bulky: temporary unless the config keeps them."""
    return directory(pattern) if PLAN.dataset.keep_frames else temp(directory(pattern))


def dataset_outputs():
    """The packed arrays of split_dataset / pack_released, named {split}_{poses|audio}."""
    return {f"{s}_{k}": f"results/{{speaker}}/dataset/{s}_{k}.npy" for s in SPLITS for k in ("poses", "audio")}


def source_video(wildcards):
    """change_fps' input: a user's video with its mtime ignored (its content identity is a param), the sample's as
    it is (sdt.plan.Plan.source_video)."""
    path, by_content = PLAN.source_video(wildcards.speaker, wildcards.video)
    return ancient(path) if by_content else path


def identity_file(wildcards):
    return PLAN.identity_file(wildcards.speaker, wildcards.video) or []


def source_identity(wildcards):
    return PLAN.source_identity(wildcards.speaker, wildcards.video)


def interval_input(key):
    """Input/param function: ``key`` of cut_interval's job for one interval (sdt.plan.Plan.interval); its source
    video is read by content (its identity stamp and param decide, as change_fps' for a folder's videos)."""

    def value(wildcards):
        job = PLAN.interval(wildcards.speaker, wildcards.video)
        if key == "video" and job["by_content"]:
            return ancient(job[key])
        return job[key] if job[key] is not None else []

    return value


def link_url(wildcards):
    return PLAN.links(wildcards.speaker)[wildcards.video]


def interval_splits(wildcards):
    return PLAN.interval_splits(wildcards.speaker)


def manifest(wildcards):
    return PLAN.manifest(wildcards.speaker)


def released_index(wildcards):
    return PLAN.released_index(wildcards.speaker)


def scale_rule(wildcards):
    return PLAN.scale_rule(wildcards.speaker)


def stats_choice(wildcards):
    return PLAN.stats_choice(wildcards.speaker)


def train_inputs(wildcards):
    return PLAN.train_inputs(wildcards.speaker, wildcards.method)


def train_params(wildcards):
    return PLAN.train_params(wildcards.speaker, wildcards.method)


def train_resource(key):
    """Resource function: a training job's ``key`` (its processes, a speed-only setting: sdt.plan)."""

    def resource(wildcards):
        return PLAN.train_resources(wildcards.speaker)[key]

    return resource


def method_definition(wildcards):
    return PLAN.definition(wildcards.method)


def evaluate_inputs(wildcards):
    return PLAN.evaluate_inputs(wildcards.speaker, wildcards.method)


def evaluate_settings(wildcards):
    return PLAN.evaluate_settings(wildcards.method)


def evaluate_method(wildcards):
    return PLAN.evaluate_method(wildcards.method)


def evaluate_gpus(wildcards):
    return PLAN.evaluate_gpus(wildcards.method)


def model_inputs(wildcards):
    return PLAN.model_inputs(wildcards.speaker, wildcards.method)


def template_models(wildcards):
    return PLAN.template_models(wildcards.speaker)


def template_labels(wildcards):
    return PLAN.labels(PLAN.template_methods(wildcards.speaker))


def training_histories(wildcards):
    return PLAN.training_histories(wildcards.speaker)


def training_plot_methods(wildcards):
    return PLAN.trained_methods(wildcards.speaker)


def demo_audio(wildcards):
    return PLAN.demo_audio(wildcards.speaker)


def sampling_temperature(wildcards):
    return PLAN.sampling_temperature(wildcards.method)
