"""Demo videos and report figures, one module per rule: make_demo_audio, demo, render_clips, plot_training,
plot_templates.  Skeleton drawing itself is sdt/render.py (shared with training videos)."""
