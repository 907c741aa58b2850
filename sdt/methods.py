"""The methods of the paper and the reference rows of its tables: one home for their names (SDT_SPEC 4-6)."""

POSE_VAE = "pose_vae"  # the pose-sequence VAE: SDT-VAE's templates and every method's FTD
AUDIO_TO_POSE = ("s2g", "sdt_bp", "sdt_vae")  # the generators: what evaluate, demo and render_clips run
TRAINED = (POSE_VAE, "sdt_bp", "sdt_vae", "s2g")  # one training rule each (rules/train.smk)
REFERENCES = ("ground_truth", "mean_pose")  # reference rows: the true poses, and the speaker's mean pose
LABELS = {"ground_truth": "ground truth", "mean_pose": "mean pose", "s2g": "Speech2Gesture", "sdt_bp": "SDT-BP",
          "sdt_vae": "SDT-VAE", "pose_vae": "pose VAE"}  # as the paper names them
