# Speech Drives Templates (Qian et al., ICCV 2021), end to end: raw videos -> dataset -> models -> tables.
#
# Results-path convention:  results/{speaker}/{stage}/{video}.*   per-video stages (one job per video)
#                           results/{speaker}/{stage}/...         per-speaker stages
#                           logs/{rule}/{speaker}/...  and  results/benchmarks/{rule}/{speaker}/...  mirror them.
# The folder of a stage is named after its rule (detect_keypoints -> keypoints/, generate_clips -> clips/); each
# rule X runs workflow_scripts/X.py, a thin adapter over sdt/<family>/X.py (docs/layout.md).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/dataset_videos.smk"
include: "rules/dataset_speakers.smk"
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
    dev_demo_audio,
    sample_qc,


rule all:
    default_target: True
    input:
        PLAN.targets(),
