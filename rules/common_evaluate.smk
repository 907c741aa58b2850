# Evaluation's and the demo's helpers: which methods each speaker is evaluated on, which checkpoint each uses (a
# trained model or one from evaluate.checkpoints), their inputs and settings.


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
