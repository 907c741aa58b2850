"""The networks of Speech Drives Templates (Qian et al., ICCV 2021): pure PyTorch modules, no I/O.

blocks (ConvNormRelu), audio_encoder, generator (SequenceGeneratorCNN), discriminator
(PoseSequenceDiscriminator), pose_vae (PoseSeqVAE).
Loading the authors' checkpoints is sdt/release_checkpoint.py's job.
"""
