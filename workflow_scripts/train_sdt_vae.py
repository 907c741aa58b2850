"""Rule train_sdt_vae: train one speaker's sdt_vae model; resumes from its last checkpoint (sdt.train.train.train)."""

from sdt.train.train import train_rule

train_rule(snakemake)
