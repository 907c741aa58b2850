"""Process-level speed settings for training: the glibc allocator, and what the opt-in fast mode does on the
device at hand."""

import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc mallopt parameters (malloc.h)


def tune_allocator(trim_threshold=-1):
    """Keep freed memory in glibc's heap instead of returning it to the kernel (mmap/munmap, heap trimming).

    The audio encoder's ~280 MB activations are otherwise mmapped and unmapped every step (~40 % of a CPU step in
    kernel time, glibc's default).  ``trim_threshold`` -1 never trims the heap: with the former 1 GiB threshold an
    SDT-BP step at batch 32 still grew the heap by 1.1 GB and trimmed it again every step (270k page faults, 0.7 s
    of kernel time per step on one thread; none now, and the peak RSS is no higher).  Same numerics.  No-op off glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold))
    except (OSError, AttributeError, TypeError):
        ok = False
    log.info("glibc allocator tuned: %s", bool(ok))
    return bool(ok)


def native_bf16(device):
    """Whether ``device`` computes bfloat16 convolutions in hardware (CUDA >= Ampere; a CPU with AVX512-BF16 or
    AMX).  Elsewhere oneDNN emulates bf16, measured 5-40x *slower* than fp32 on an AVX2 CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


@dataclass(frozen=True)
class FastMode:
    """What ``train.fast`` turns on for one device; the default (``fast: false``) is plain fp32."""

    autocast: torch.dtype | None = None  # mixed precision of the generators' forward pass (losses stay fp32)
    channels_last: bool = False  # NHWC audio encoder (the 2D part: ~95 % of the generator's FLOPs)
    compile: bool = False  # torch.compile the networks (GPU only: CPU compile costs minutes for ~5 %)
    fused: bool = False  # fp32 speed-ups off the release's numerics: models/fused.py blocks, NHWC on AVX-512

    def describe(self):
        parts = [f"autocast {self.autocast}" if self.autocast else "fp32", "fused blocks" if self.fused else "",
                 "channels-last" if self.channels_last else "", "torch.compile" if self.compile else ""]
        return ", ".join(p for p in parts if p)


def fast_mode(device, requested):
    """The fast mode for ``device``: bf16 autocast + channels-last (+ torch.compile on CUDA) where the hardware
    computes bf16 natively; otherwise fp32, with a warning (on an AVX2 CPU both bf16 and a channels-last fp32
    backward pass are slower).  Either way the fp32 speed-ups that change the release's numerics beyond 1e-5 after
    one step (sdt.device.fast_layout: models/fused.py blocks, NHWC on AVX-512) are on; the default has none."""
    device = torch.device(device)
    if not requested:
        return FastMode()
    if not native_bf16(device):
        log.warning("fast mode: %s has no native bfloat16 (CPU capability %s): training stays fp32", device,
                    torch.backends.cpu.get_cpu_capability() if device.type == "cpu" else device.type)
        return FastMode(fused=True)
    mode = FastMode(torch.bfloat16, channels_last=True, compile=device.type == "cuda", fused=True)
    log.info("fast mode on %s: %s", device, mode.describe())
    return mode
