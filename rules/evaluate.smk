# Evaluation (docs/evaluation.md §1): every configured method and two reference rows (ground_truth: L2 0 and FTD ~0, a check;
# mean_pose: the speaker's mean pose on every frame) on each speaker's dev clips, one job per speaker and method
# (all seeds in one job: the model and the true clips' VAE codes are loaded and computed once), then the paper's
# three tables beside its published numbers (config/published/paper_results.csv) and a table of every evaluation.
# FTD of every method uses the same speaker's pose VAE: its trained pose_vae.pt or the configured release VAE.
# A job's code digest holds its method family's network only.  Input functions are in common.smk, targets in
# targets.smk.


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
        method="|".join([*PLAN.methods, *REFERENCES]),
    conda:
        "../envs/sdt.yaml"
    threads: 4
    resources:
        gpu=evaluate_gpus,
        mem_mb=8000,
        runtime=120,
    params:
        code=method_code("evaluate"),
        method=evaluate_method,
        settings=evaluate_settings,
    script:
        "../workflow_scripts/evaluate.py"


rule paper_tables:
    input:
        evaluations=PLAN.evaluations(),
        published=PLAN.paper_results,
    output:
        csv="results/tables/paper_tables.csv",
        md="results/tables/paper_tables.md",
        html=report(
            "results/tables/paper_tables.html",
            caption="../report/paper_tables.rst",
            category="Tables",
            labels={"table": "the paper's Tables 1-3"},
        ),
        evaluations_csv=report(
            "results/tables/evaluations.csv",
            caption="../report/evaluations.rst",
            category="Tables",
            labels={"table": "every evaluation"},
        ),
        evaluations_md="results/tables/evaluations.md",
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
        labels=PLAN.labels(),
    script:
        "../workflow_scripts/paper_tables.py"
