# The targets of the main job (`all` in the Snakefile): per speaker the dataset, the models, the evaluations,
# then the tables and the demo of the first speaker.  A model replaced by a checkpoint in evaluate.checkpoints is not
# trained.


def dataset_targets():
    """Per speaker: the statistics, (speakers built from videos) the QC table and (the sample) its gesture QC."""
    targets = []
    for speaker in config["speakers"]:
        targets.append(f"results/{speaker}/stats.npz")
        if speaker_kind(speaker) != "released":
            targets.append(f"results/{speaker}/qc.csv")
        if speaker_kind(speaker) == "sample":
            targets.append(f"results/{speaker}/plots/sample_qc.png")
    return targets


def model_targets():
    """Every speaker's trained models, except those replaced by a checkpoint in evaluate.checkpoints."""
    return [f"results/{s}/models/{m}.pt" for s in config["speakers"] for m in trained_methods(s)]


def evaluation_targets():
    """Every speaker's evaluation JSONs: the reference rows and the configured methods."""
    return [
        f"results/{speaker}/evaluation/{method}.json"
        for speaker in config["speakers"]
        for method in (*REFERENCES, *speaker_methods(speaker))
    ]


def table_targets():
    """The paper's Tables 1-3 beside its numbers, and the table of every evaluation."""
    return [f"results/tables/{name}" for name in ("paper_tables.md", "paper_tables.html", "evaluations.md")]


def demo_targets():
    """The first speaker's demo video of demo.method, prediction-vs-truth renderings of dev clips, training curves
    (of the models it trains: none when evaluate.checkpoints replaces them all) and the template projection (when an
    evaluated method has a clip-wise template table)."""
    speaker = next(iter(config["speakers"]))
    targets = [
        f"results/{speaker}/demo/{DEMO['method']}.mp4",
        f"results/{speaker}/render/{DEMO['method']}.mp4",
    ]
    targets += [f"results/{speaker}/plots/templates.png"] if template_methods(speaker) else []
    return targets + ([f"results/{speaker}/plots/training.png"] if trained_methods(speaker) else [])
