# Training's helpers: each speaker's preset, the statistics choice, the settings each method's rule passes (params)
# or uses for speed only (resources), its inputs and GPUs.


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
