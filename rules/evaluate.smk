# Evaluation (SDT_SPEC 6): every configured method and two reference rows (ground_truth: L2 0 and FTD ~0, a check;
# mean_pose: the speaker's mean pose on every frame) on each speaker's dev clips, one job per speaker and method
# (all seeds in one job: the model and the true clips' VAE codes are loaded and computed once), then the table.
# FTD of every method uses the same speaker's pose VAE: its trained pose_vae.pt or the configured release VAE.
# Input functions are in common.smk, targets in targets.smk.


rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        metrics="results/{speaker}/evaluation/{method}.json",
    log:
        "logs/evaluate/{speaker}/{method}.log",
    benchmark:
        "results/benchmarks/evaluate/{speaker}/{method}.tsv"
    wildcard_constraints:
        method="|".join(AUDIO_TO_POSE + REFERENCES),
    conda:
        "../envs/sdt.yaml"
    threads: 4
    resources:
        gpu=evaluate_gpus,
        mem_mb=8000,
        runtime=120,
    params:
        code=code("evaluate"),
        settings=evaluate_settings,
    script:
        "../workflow_scripts/evaluate.py"


rule paper_tables:
    input:
        evaluations=evaluation_targets(),
    output:
        csv=report(
            "results/tables/paper_table.csv",
            caption="../report/paper_table.rst",
            category="Tables",
            labels={"table": "paper table"},
        ),
        md="results/tables/paper_table.md",
    log:
        "logs/paper_tables.log",
    conda:
        "../envs/sdt.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("paper_tables"),
    script:
        "../workflow_scripts/paper_tables.py"
