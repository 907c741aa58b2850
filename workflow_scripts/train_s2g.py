"""Rule train_s2g: train one speaker's s2g model; resumes from its last checkpoint (sdt.train.train.train)."""

from sdt.train.train import train_rule

train_rule(snakemake)
