"""Training the models (docs/networks.md §3): train (the rules' function: epochs, checkpoints, history), run (one run's
networks, optimisers and checkpoint payload), engine (the epoch loop and validation), steps (one module per network
family: its networks, templates, loss and step), data (batches from the packed clips), config (the typed settings),
perf (allocator and fast mode), synthetic (a clip set for tests)."""
