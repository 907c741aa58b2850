# Training (SDT_SPEC 5): one rule per model.  The final model is the rule's output; resumable checkpoints live
# in results/{speaker}/train/{method}/checkpoints/, which Snakemake never wipes, so a killed job resumes.
# Inputs (train_inputs): the clips, SDT-VAE's pose VAE, validation's pose VAE, a fine-tuning source; a job runs
# on train.gpus processes (resources gpu=, sdt.train.launch).


rule train_pose_vae:
    input:
        unpack(train_inputs("pose_vae")),
    output:
        model="results/{speaker}/models/pose_vae.pt",
        history="results/{speaker}/train/pose_vae/history.csv",
    log:
        "logs/train_pose_vae/{speaker}.log",
    benchmark:
        "results/benchmarks/train_pose_vae/{speaker}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=8000,
        runtime=240,
    params:
        code=code("train"),
        settings=train_params("pose_vae"),
    script:
        "../workflow_scripts/train.py"


rule train_sdt_bp:
    input:
        unpack(train_inputs("sdt_bp")),
    output:
        model="results/{speaker}/models/sdt_bp.pt",
        history="results/{speaker}/train/sdt_bp/history.csv",
    log:
        "logs/train_sdt_bp/{speaker}.log",
    benchmark:
        "results/benchmarks/train_sdt_bp/{speaker}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=12000,
        runtime=720,
    params:
        code=code("train"),
        settings=train_params("sdt_bp"),
    script:
        "../workflow_scripts/train.py"


rule train_sdt_vae:
    input:
        unpack(train_inputs("sdt_vae")),
    output:
        model="results/{speaker}/models/sdt_vae.pt",
        history="results/{speaker}/train/sdt_vae/history.csv",
    log:
        "logs/train_sdt_vae/{speaker}.log",
    benchmark:
        "results/benchmarks/train_sdt_vae/{speaker}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=12000,
        runtime=720,
    params:
        code=code("train"),
        settings=train_params("sdt_vae"),
    script:
        "../workflow_scripts/train.py"


rule train_s2g:
    input:
        unpack(train_inputs("s2g")),
    output:
        model="results/{speaker}/models/s2g.pt",
        history="results/{speaker}/train/s2g/history.csv",
    log:
        "logs/train_s2g/{speaker}.log",
    benchmark:
        "results/benchmarks/train_s2g/{speaker}.tsv"
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=12000,
        runtime=720,
    params:
        code=code("train"),
        settings=train_params("s2g"),
    script:
        "../workflow_scripts/train.py"
