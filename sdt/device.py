"""Where torch computes: one choice for every training, evaluation and rendering step."""

import torch


def pick_device(device=None, threads=None):
    """``device`` when given, else CUDA when torch sees a GPU, else the CPU; ``threads`` (a rule's) caps torch's
    CPU threads."""
    if threads:
        torch.set_num_threads(int(threads))
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
