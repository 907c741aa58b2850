"""Building a speaker's dataset (SDT_SPEC 2), one module per rule: make_sample_video, change_fps, extract_frames,
detect_keypoints (+ mediapipe_map), remove_outliers, rescale_shoulders, generate_clips (per video; keypoints reads
their files), split_dataset or pack_released, compute_stats, qc_table (per speaker)."""
