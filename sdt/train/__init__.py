"""Training the models (SDT_SPEC 5): train (the rules' function: epochs, checkpoints, history), run (one run's
networks, optimisers and checkpoint payload), engine (the per-step maths and validation), data (batches from the
packed clips), config (the typed settings), perf (allocator and fast mode), synthetic (a clip set for tests)."""
