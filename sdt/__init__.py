"""Importable, tested functions behind the Speech Drives Templates workflow (SDT, Qian et al., ICCV 2021).

One package per rule family, as rules/*.smk are grouped; a stage that is one rule lives in the module named after
it (rule X -> workflow_scripts/X.py -> sdt/<family>/X.py):
  sdt.dataset   rules/dataset_videos.smk, rules/dataset_speakers.smk: videos -> clips -> splits -> statistics
  sdt.train     rules/train.smk: the training of every model
  sdt.evaluate  rules/evaluate.smk: metrics and the paper's tables
  sdt.demo      rules/demo.smk: demo videos, dev-clip renderings, report figures
The modules directly in sdt/ are the shared base: constants (the dataset contract's numbers), layout and poses
(keypoint layouts, pose transforms), audio (mel spectrogram), media (ffmpeg), io (atomic writes, npz reading),
errors, device, checkpoint, release_checkpoint and inference (loading models), methods (method names), render
(skeleton drawing), provenance (the code digest of each rule).  Networks are in models/.  Nothing here knows
about Snakemake: step scripts unpack `snakemake` and call one function.
"""
