# Lookups and input functions the rules share: speakers and their videos, code digests, wildcard constraints, the
# per-method settings of training and evaluation.  Target lists are in targets.smk, the config in config.smk.
import os
from pathlib import Path

from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS, SPLITS
from sdt.methods import BP_TEMPLATES, NETWORK_MODULES, POSE_VAE, REFERENCES
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
    modules = [NETWORK_MODULES[family][0]] + ([f"sdt.train.steps.{family}"] if script == "train" else [])
    return code(script, *modules)


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


def preset_of(speaker):
    """The training preset of a speaker: its own `preset:`, else train.preset; `auto` gives the bundled sample
    speaker `quick` (minutes on a CPU: it only shows that every stage runs) and every other speaker `release`."""
    name = config["speakers"][speaker].get("preset") or config["train"]["preset"]
    if name == "auto":
        name = "quick" if speaker_kind(speaker) == "sample" else "release"
    if name != "release" and name not in config["train_presets"]:
        raise WorkflowError(
            f"speaker '{speaker}': training preset '{name}' is not 'release' nor one of train_presets: "
            f"{sorted(config['train_presets'])}"
        )
    return name


def _preset_settings(name):
    """config['train'] with preset `name`'s overrides ('release' = none: the release's settings)."""
    settings = {k: v for k, v in config["train"].items() if k != "preset"}
    return {**settings, **config["train_presets"].get(name, {})} if name != "release" else settings


TRAIN = {speaker: _preset_settings(preset_of(speaker)) for speaker in config["speakers"]}
for _speaker, _settings in TRAIN.items():
    _steps = _settings["max_steps_per_epoch"] or "all"
    logger.info(
        f"speaker {_speaker} ({speaker_kind(_speaker)}): training preset {preset_of(_speaker)}: "
        f"{_settings['epochs']} epochs x {_steps} steps of {_settings['batch_size']} clips per model"
    )

# The release's per-speaker statistics (SDT_SPEC 9), shipped with the workflow (config/published/README.md)
RELEASE_STATS = str(Path(workflow.basedir) / "config" / "published" / "release_speakers_stat.json")


def stats_choice(wildcards):
    """A speaker's `stats:` (auto | release | computed; compute_stats resolves auto by the speaker's release name)."""
    return config["speakers"][wildcards.speaker].get("stats", "auto")


# Training settings that only some methods use: left out of the others' params, so changing one reruns only the
# methods that use it (and what depends on them).  SPEED_ONLY (sdt.train.config): settings that cannot change the
# trained weights nor the history (DataLoader workers, the checkpoint interval, the videos): passed as resources,
# which unlike params never rerun a job, so raising num_workers retrains nothing (nor do they invalidate a
# checkpoint: not in its fingerprint).
def _uses(key, method):
    if key == "vae_kl_weight":
        return method.family == POSE_VAE.family
    if key == "template_dim":
        return method.family == POSE_VAE.family or method.template != "none"
    if key in ("template_kl_weight", "template_lr_scale", "init_templates"):
        return method.template in BP_TEMPLATES
    if key == "validate_ftd":  # validation of the audio-to-pose models (the pose VAE validates itself)
        return method.audio_to_pose
    return key not in (*SPEED_ONLY, *NOT_SETTINGS)


def train_params(method):
    """Params function: the settings a method's training rule passes to its script for a speaker (Snakemake reruns
    the rule when they change); not the speed-only ones (resources, TRAIN_SPEED), gpus (a resource) nor init_from
    (an input, train_inputs).  ``method``: a sdt.methods.Method, or None for the {method} of the job."""

    def params(wildcards):
        chosen = METHODS[wildcards.method] if method is None else method
        keep = {k: v for k, v in TRAIN[wildcards.speaker].items() if _uses(k, chosen)}
        if chosen.audio_to_pose and not chosen.parted:  # FTD has two encoder inputs (issue 14)
            keep["ftd_global_input"] = EVALUATE["ftd_global_input"]
        return keep

    return params


def method_definition(wildcards):
    """What defines the {method} of a job (sdt.methods.Method.definition) with its name: a training param, so only
    a change of the definition retrains it, and an evaluation param, checked against the model."""
    return {"name": wildcards.method, **METHODS[wildcards.method].definition()}


def _train_speed(key):
    """Resource function: the speed-only training setting `key` of a speaker (SPEED_ONLY; a list as text, since
    resources are numbers or strings: sdt.train.config.TrainSettings reads it back)."""

    def resource(wildcards):
        value = TRAIN[wildcards.speaker][key]
        return (",".join(value) or "none") if isinstance(value, list) else value

    return resource


TRAIN_SPEED = {key: _train_speed(key) for key in SPEED_ONLY}  # the resources of every training rule


def train_gpus(wildcards):
    """Resource function: a training job's GPUs, which is its number of processes (train.gpus; sdt.train.launch)."""
    return TRAIN[wildcards.speaker]["gpus"]


# The inputs of every training rule (the packed train and dev clips and the speaker statistics)
TRAIN_DATA = {
    "train_poses": "results/{speaker}/dataset/train_poses.npy",
    "train_audio": "results/{speaker}/dataset/train_audio.npy",
    "dev_poses": "results/{speaker}/dataset/dev_poses.npy",
    "dev_audio": "results/{speaker}/dataset/dev_audio.npy",
    "stats": "results/{speaker}/stats.npz",
}
def train_inputs(method=None):
    """Input function of the training of ``method`` (a sdt.methods.Method; else of the {method} wildcard), giving the
    clips and statistics; the pose VAE of a method whose templates are its clip means (SDT-VAE); the pose VAE of
    validation's FTD (train.validate_ftd, audio-to-pose methods: the one evaluate uses); the model to fine-tune from
    (train.init_from: its content makes the rule stale)."""

    def inputs(wildcards):
        speaker = wildcards.speaker
        chosen = METHODS[wildcards.method] if method is None else method
        files = {k: v.format(speaker=speaker) for k, v in TRAIN_DATA.items()}
        if chosen.template == "vae":
            files["pose_vae"] = f"results/{speaker}/models/pose_vae.pt"
        if chosen.audio_to_pose and TRAIN[speaker]["validate_ftd"]:
            files["ftd_vae"] = eval_checkpoint(speaker, POSE_VAE.name)
        source = TRAIN[speaker]["init_from"].get(speaker, {}).get(chosen.name)
        if source:
            files["init_from"] = source
        return files

    return inputs


def speaker_methods(speaker):
    """The methods evaluated on ``speaker``: evaluate.methods, then its evaluate.speaker_methods."""
    extra = EVALUATE["speaker_methods"].get(speaker, [])
    return [*EVALUATE["methods"], *(m for m in extra if m not in EVALUATE["methods"])]


# The paper's published numbers (config/published/README.md), shipped with the workflow (not the working directory)
PAPER_RESULTS = str(Path(workflow.basedir) / "config" / "published" / "paper_results.csv")

EVAL_BATCH_SIZE = 64  # clips per forward pass; results do not depend on it (templates are drawn per clip)


def eval_checkpoint(speaker, method):
    """A checkpoint from evaluate.checkpoints (e.g. the authors' release), else the speaker's trained model."""
    return EVALUATE["checkpoints"].get(speaker, {}).get(method, f"results/{speaker}/models/{method}.pt")


def replaced(speaker, method):
    """True when evaluate.checkpoints gives `method`'s checkpoint for `speaker`: that model is not trained."""
    return method in EVALUATE["checkpoints"].get(speaker, {})


def trained_methods(speaker):
    """The models the workflow trains for `speaker`: the pose VAE (FTD of every method) and every method evaluated on
    it, except those evaluate.checkpoints replaces."""
    return [m for m in (POSE_VAE.name, *speaker_methods(speaker)) if not replaced(speaker, m)]


for _speaker, _given in EVALUATE["checkpoints"].items():
    if "sdt_vae" in _given and "pose_vae" not in _given:  # a release SDT-VAE's templates are its VAE's clip means
        raise WorkflowError(
            f"evaluate.checkpoints.{_speaker} gives sdt_vae but no pose_vae: the authors' SDT-VAE takes its templates "
            "from the authors' pose VAE (module.clip_code_mu), so give that checkpoint too"
        )


def model_inputs(wildcards):
    """A model a demo, render_clips or plot step uses: its checkpoint (trained or configured), the statistics, the
    dataset index (a template table has one row per train row) and, for a configured SDT-VAE, the pose VAE whose
    clip means are its templates."""
    speaker, method = wildcards.speaker, wildcards.get("method", "sdt_vae")
    inputs = {
        "model": eval_checkpoint(speaker, method),
        "stats": f"results/{speaker}/stats.npz",
        "index": f"results/{speaker}/dataset/clips.csv",
    }
    if METHODS[method].template == "vae" and replaced(speaker, method):
        inputs["pose_vae"] = eval_checkpoint(speaker, "pose_vae")
    return inputs


def template_models(wildcards):
    """plot_templates' inputs: every method evaluated on the speaker with one template per training clip (SDT-BP's
    table, SDT-VAE's VAE means; trained or configured) under its name, the dataset index and, for a configured
    SDT-VAE, its pose VAE."""
    speaker = wildcards.speaker
    inputs = {m: eval_checkpoint(speaker, m) for m in template_methods(speaker)}
    extra = {k: v for k, v in model_inputs(wildcards).items() if k in ("index", "pose_vae")}
    if not any(METHODS[m].template == "vae" and replaced(speaker, m) for m in inputs):
        extra.pop("pose_vae", None)
    return {**inputs, **extra}


def training_histories(wildcards):
    """The history.csv of every model trained for the speaker (replaced models have no training curves)."""
    return [f"results/{wildcards.speaker}/train/{m}/history.csv" for m in trained_methods(wildcards.speaker)]


def training_plot_methods(wildcards):
    """The methods of training_histories, in the same order (plot_training's labels)."""
    return trained_methods(wildcards.speaker)


def demo_audio(wildcards):
    """The speech of a speaker's demo: the configured file, else espeak-ng speech (make_demo_audio) when the config
    has the sample speaker, else the speaker's own dev clips (dev_demo_audio): real data needs no espeak-ng."""
    if DEMO_AUDIO:
        return DEMO_AUDIO
    if any(speaker_kind(s) == "sample" for s in config["speakers"]):
        return "results/demo/speech.wav"
    return f"results/{wildcards.speaker}/demo/dev_speech.wav"


def evaluate_inputs(wildcards):
    """Dev clips (poses and audio: BC's onsets), statistics and the pose VAE of FTD for every row; the model too for
    methods."""
    speaker, method = wildcards.speaker, wildcards.method
    inputs = {
        "dev_poses": f"results/{speaker}/dataset/dev_poses.npy",
        "dev_audio": f"results/{speaker}/dataset/dev_audio.npy",
        "stats": f"results/{speaker}/stats.npz",
        "pose_vae": eval_checkpoint(speaker, "pose_vae"),
    }
    if method not in REFERENCES:
        inputs["model"] = eval_checkpoint(speaker, method)
        inputs["index"] = f"results/{speaker}/dataset/clips.csv"  # the template table's rows are its train rows
    return inputs


def evaluate_settings(wildcards):
    """The settings a result depends on: reference rows and methods that draw nothing ignore templates and seeds,
    only MoGlow samples at a temperature, only global-pose models have a choice of FTD input, so changing those does
    not rerun the others."""
    keys = ["pck_threshold"]
    if wildcards.method not in REFERENCES:
        method = METHODS[wildcards.method]
        keys += ["diversity_samples"] + (["seeds"] if method.stochastic else [])
        keys += ["template"] if method.template != "none" else []
        keys += ["temperature"] if method.family == "moglow" else []
        keys += ["ftd_global_input"] if not method.parted else []
    return {**{k: EVALUATE[k] for k in keys}, "batch_size": EVAL_BATCH_SIZE}


def evaluate_method(wildcards):
    """A reference row's name, or the method's definition."""
    return wildcards.method if wildcards.method in REFERENCES else method_definition(wildcards)


def evaluate_gpus(wildcards):
    """Models run on a GPU; the reference rows only need the pose VAE's encoder, which is quick on a CPU."""
    return 0 if wildcards.method in REFERENCES else 1


def sampling_temperature(wildcards):
    """MoGlow's sampling temperature for the demo and renderings (None for the others: their results do not
    depend on it)."""
    return EVALUATE["temperature"] if METHODS[wildcards.method].family == "moglow" else None


def template_methods(speaker):
    """The methods evaluated on ``speaker`` with one template per training clip (SDT-BP's table, SDT-VAE's VAE
    means): what plot_templates projects."""
    return [m for m in speaker_methods(speaker) if METHODS[m].template in ("clip_bp", "vae")]


def template_labels(wildcards):
    """{method: its label in the plot} of template_models."""
    return {m: METHODS[m].label or m for m in template_methods(wildcards.speaker)}
