"""Building a speaker's dataset (docs/dataset.md §6), one module per rule: make_sample_video, change_fps,
extract_frames, detect_keypoints (+ mediapipe_map), remove_outliers, rescale_shoulders, generate_clips (per video;
keypoints reads their files), split_dataset or pack_released, compute_stats, qc_table (per speaker)."""
