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


def channels_last_pays(device):
    """Whether the audio encoders' fp32 convolutions run faster channels-last (NHWC) on ``device``: on a CPU whose
    kernels are AVX-512, where oneDNN computes NHWC natively (the SDT-BP training step ~1.25x faster); not on AVX2,
    where its NHWC backward pass is the slower one (benchmarks/README.md, "the training step").  Used only under
    ``train.fast`` (:func:`fast_layout`): NHWC changes the numerics, oneDNN's NHWC convolution backward pass and
    PyTorch's NHWC norms reduce in another order, and after one Adam step at batch 32 Speech2Gesture's weights
    differ from the release's NCHW ones by 2e-4 (tests/train/test_release_numerics.py; docs/training.md)."""
    device = torch.device(device)
    return device.type == "cpu" and torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def fast_layout(net, device):
    """``net`` in ``train.fast``'s fp32 speed-ups: models/fused.py's block formulations and its audio encoder (if
    any) channels-last where that pays (:func:`channels_last_pays`); the state dict keeps its keys and values.
    Not the release's numerics to 1e-5 (see above): the default (training and inference) is the plain modules."""
    from models.blocks import use_fast_blocks

    use_fast_blocks(net)
    if hasattr(net, "audio_encoder") and channels_last_pays(device):
        net.audio_encoder.to(memory_format=torch.channels_last)
    return net
