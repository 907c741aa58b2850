# Training (SDT_SPEC 5): one rule per network family, one job per speaker and method.  A method is a name plus
# what defines it (sdt/methods.py; README "Methods"): e.g. SDT-BP = the U-Net generator, IN*, parted poses, a
# clip-wise template table.  Where each method trains:
#   train_pose_vae    pose_vae                      (SDT-VAE's templates, every method's FTD)
#   train_generator   s2g, sdt_bp, sdt_vae, no_template, sdt_bp_frame, bn_global, in_global, in_star_global,
#                     bn_parted, in_parted, and the config's own unet variants
#   train_audio2body  audio2body (and variants);   train_moglow  moglow (and variants)
# A job's params are the method's definition, the training settings it uses and the digest of its family's code
# (sdt/train/steps/<family>.py, models/<network>.py): only a change of these retrains it.  The final model is the
# output; resumable checkpoints live in results/{speaker}/train/{method}/checkpoints/, never wiped, so a killed job
# resumes.  Inputs (train_inputs): the clips, SDT-VAE's pose VAE, validation's pose VAE, a fine-tuning source; a job
# runs on train.gpus processes (resources gpu=, sdt.train.launch).  Input functions are in common.smk.


rule train_pose_vae:
    input:
        unpack(train_inputs(POSE_VAE)),
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
        code=family_code("train", POSE_VAE.family),
        method={"name": POSE_VAE.name, **POSE_VAE.definition()},
        settings=train_params(POSE_VAE),
    script:
        "../workflow_scripts/train.py"


rule train_generator:
    input:
        unpack(train_inputs()),
    output:
        model="results/{speaker}/models/{method}.pt",
        history="results/{speaker}/train/{method}/history.csv",
    log:
        "logs/train_generator/{speaker}/{method}.log",
    benchmark:
        "results/benchmarks/train_generator/{speaker}/{method}.tsv"
    wildcard_constraints:
        method=family_methods("unet"),
    conda:
        "../envs/sdt.yaml"
    threads: 2
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=12000,
        runtime=720,
    params:
        code=family_code("train", "unet"),
        method=method_definition,
        settings=train_params(None),
    script:
        "../workflow_scripts/train.py"


# Audio to Body Dynamics: 8.2 M parameters, LSTMs over 67 steps: 0.15x the generator's FLOPs per step.
use rule train_generator as train_audio2body with:
    log:
        "logs/train_audio2body/{speaker}/{method}.log",
    benchmark:
        "results/benchmarks/train_audio2body/{speaker}/{method}.tsv"
    wildcard_constraints:
        method=family_methods("audio2body"),
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=8000,
        runtime=720,
    params:
        code=family_code("train", "audio2body"),
        method=method_definition,
        settings=train_params(None),


# MoGlow: 211 M parameters (0.84 GB, 3.4 GB with Adam's moments), 12 coupling LSTMs over 64 frames per step.
use rule train_generator as train_moglow with:
    log:
        "logs/train_moglow/{speaker}/{method}.log",
    benchmark:
        "results/benchmarks/train_moglow/{speaker}/{method}.tsv"
    wildcard_constraints:
        method=family_methods("moglow"),
    resources:
        **TRAIN_SPEED,
        gpu=train_gpus,
        mem_mb=24000,
        runtime=1440,
    params:
        code=family_code("train", "moglow"),
        method=method_definition,
        settings=train_params(None),
