"""Rule train_sdt_bp: train one speaker's sdt_bp model; resumes from its last checkpoint (sdt.train.train.train)."""

from sdt.train.train import train_rule

train_rule(snakemake)
