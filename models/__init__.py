"""The networks of Speech Drives Templates (Qian et al., ICCV 2021): pure PyTorch modules, no I/O.

blocks (ConvNormRelu, Standardize), audio_encoder, generator (SequenceGeneratorCNN), discriminator
(PoseSequenceDiscriminator), pose_vae (PoseSeqVAE); the Table 2 baselines audio2body (Audio2Body, on
models.features.MFCC) and moglow (MoGlow, on the mel spectrogram).
Loading the authors' checkpoints is sdt/release_checkpoint.py's job.
"""
