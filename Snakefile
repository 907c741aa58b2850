# Speech Drives Templates (Qian et al., ICCV 2021), end to end: raw videos -> dataset -> models -> tables.
#
# Results-path convention:  results/{speaker}/{stage}/{video}.*   per-video stages (one job per video)
#                           results/{speaker}/{stage}/...         per-speaker stages
#                           logs/{rule}/{speaker}/...  and  benchmarks/{rule}/{speaker}/...  mirror them.
# The folder of a stage is named after its rule (detect_keypoints -> keypoints/, generate_clips -> clips/).

from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    speaker="[A-Za-z0-9_-]+",
    video="[^/]+",
    split="|".join(SPLITS),


include: "rules/dataset.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/demo.smk"


# Seconds of work each: not worth a place in a cluster queue.
localrules:
    all,
    paper_tables,
    plot_training,
    plot_templates,
    make_demo_audio,


rule all:
    default_target: True
    input:
        dataset_targets(),
        model_targets(),
        evaluation_targets(),
        table_targets(),
        demo_targets(),
