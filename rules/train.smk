# Training (docs/networks.md §3): one rule per method family (sdt/families/: train_pose_vae, train_generator,
# train_audio2body, train_moglow), one job per speaker and method.  A method is a name plus what defines it
# (sdt/methods.py; docs/methods.md), e.g. SDT-BP = the U-Net generator, IN*, parted poses, a clip-wise template
# table.  A job's params are the method's definition, the training settings it uses and the digest of its family's
# code (sdt/families/<family>.py, models/<network>.py): only a change of these retrains it; the speed-only settings
# and the job's processes (train.gpus) are resources, which rerun nothing.  The final model is the output;
# resumable checkpoints live in results/{speaker}/train/{method}/checkpoints/, never wiped, so a killed job resumes.
# Inputs (sdt.plan.Plan.train_inputs): the clips, SDT-VAE's pose VAE, validation's pose VAE, a fine-tuning source.

for _family in FAMILIES.values():

    rule:
        name:
            _family.rule
        input:
            unpack(train_inputs),
        output:
            model="results/{speaker}/models/{method}.pt",
            history="results/{speaker}/train/{method}/history.csv",
        log:
            f"logs/{_family.rule}/{{speaker}}/{{method}}.log",
        benchmark:
            f"results/benchmarks/{_family.rule}/{{speaker}}/{{method}}.tsv"
        wildcard_constraints:
            method=PLAN.family_methods(_family.name),
        conda:
            "../envs/sdt.yaml"
        threads: 2
        resources:
            **{k: train_resource(k) for k in PLAN.TRAIN_RESOURCES},
            **_family.resources,
        params:
            code=PLAN.code("train", _family.name),
            method=method_definition,
            settings=train_params,
        script:
            "../workflow_scripts/train.py"
