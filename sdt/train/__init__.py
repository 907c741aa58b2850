"""Training the models (docs/networks.md §3): train (the rules' function: epochs, checkpoints, history), run (one run's
networks, optimisers and checkpoint payload), engine (the epoch loop and validation), data (batches from the packed
clips), config (the typed settings), perf (allocator and fast mode), launch and distributed (several processes),
validate and videos (every epoch), init_from (fine-tuning).  What differs between method families (their networks,
templates, loss and step) is in sdt/families/."""
