# A one-minute check of a cluster and profile before the real run: a job that asks for a GPU the way the workflow's
# GPU rules do (gpu=1, or whatever set-resources says for them) and one that does not, each recording what SLURM
# gave it.  From an empty folder on the shared file system:
#   snakemake --profile <repo>/profiles/slurm -s <repo>/tests/slurm/gpu_check.smk
#   cat gpu_job.txt       # CUDA_VISIBLE_DEVICES, nvidia-smi -L, and the job's GRES in `scontrol show job`
# Override the request as for the real rules, e.g. --set-resources gpu_job:gpu_model=a100 gpu_job:slurm_partition=gpu


rule all:
    input:
        "gpu_job.txt",
        "cpu_job.txt",


rule gpu_job:
    output:
        "gpu_job.txt",
    log:
        "logs/gpu_job.log",
    resources:
        gpu=1,
    shell:
        "(echo CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES-unset}}; nvidia-smi -L || true;"
        " scontrol show job -d $SLURM_JOB_ID) > {output} 2> {log}"


rule cpu_job:
    output:
        "cpu_job.txt",
    log:
        "logs/cpu_job.log",
    shell:
        "(echo CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES-unset}}; scontrol show job -d $SLURM_JOB_ID)"
        " > {output} 2> {log}"
