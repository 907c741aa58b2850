# Run through the SLURM profile by tests/workflow/test_slurm.py: a job that fails inside SLURM must fail the run.


rule fail:
    output:
        "never.txt",
    log:
        "logs/fail.log",
    shell:
        "echo failing on purpose in SLURM job $SLURM_JOB_ID > {log}; exit 3"
