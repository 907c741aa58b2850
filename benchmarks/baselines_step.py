"""Benchmark: one training step of each Table 2 baseline at release sizes, against this machine's matmul rate.

    python benchmarks/baselines_step.py [--batch 32] [--threads 2] [--steps 3] [--models audio2body,moglow]

A step is what a trainer runs per batch: the audio features of the batch's 68266-sample clips (MFCC for
Audio2Body, mel spectrogram for MoGlow; no gradient), forward, loss (summed squared error / exact NLL),
backward and an Adam update, on random clips and poses.  Its time is the minimum over --steps timed steps
after one warm-up step (which also runs MoGlow's ActNorm initialisation).  FLOPs come from
torch.utils.flop_counter.FlopCounterMode over one more step; it counts matrix products (linear layers, the
1x1 convolutions, the mel and DCT matrices) but not CPU LSTMs (aten.mkldnn_rnn_layer), so those get a formula
here: forward 2 T B 4H (I + H) per layer (gates' input and recurrent products), backward twice that (input
and weight gradients); elementwise work (gates, Adam) is not counted.  The reference rate is a 2048 x 2048
fp32 torch.mm on the same threads, measured before and after the models (the better of the two is used).
"""

import argparse
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from models.audio2body import Audio2Body, Audio2BodyConfig, audio2body_loss
from models.features import MFCC, MelSpectrogram
from models.moglow import MoGlow, MoGlowConfig

CLIP = 68266  # samples of a 64-frame clip


def matmul_gflops(n=2048, repeats=8):
    """Best fp32 rate of an n x n torch.mm, GFLOP/s (2 n^3 FLOPs each)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def lstm_layer_flops(input, weight0, weight1, *args, out_shape=None, **kwargs):
    """aten.mkldnn_rnn_layer: input (T, B, I) or (B, T, I), weight0 = W_ih (4H, I), weight1 = W_hh (4H, H)."""
    rows = 1
    for size in input[:-1]:
        rows *= size
    return 2 * rows * weight0[0] * (weight0[1] + weight1[1])


def lstm_layer_backward_flops(input, weight1, weight2, *args, out_shape=None, **kwargs):
    return 2 * lstm_layer_flops(input, weight1, weight2)  # gradients of the inputs and of the weights


LSTM_FLOPS = {torch.ops.aten.mkldnn_rnn_layer: lstm_layer_flops,
              torch.ops.aten.mkldnn_rnn_layer_backward: lstm_layer_backward_flops}


# name -> (network at release size, its audio features, loss(network, features, poses))
MODELS = {
    "audio2body": (lambda: Audio2Body(Audio2BodyConfig()), MFCC, lambda net, x, poses: audio2body_loss(net(x), poses)),
    "moglow": (lambda: MoGlow(MoGlowConfig()), MelSpectrogram, lambda net, x, poses: net.nll(poses, x)),
}


def make_step(name, batch, generator):
    """-> (network, step()): one training step on a fixed random batch, returning the loss."""
    build, features_class, loss_fn = MODELS[name]
    torch.manual_seed(0)
    model, features = build(), features_class()
    audio = torch.randn(batch, CLIP, generator=generator) * 0.1
    poses = torch.randn(batch, 64, 2, 121, generator=generator)
    model.fit_input_stats(features(audio))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        with torch.no_grad():
            x = features(audio)  # MFCC (B, 28, 64) or mel (B, 80, 427)
        loss = loss_fn(model, x, poses)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return model, step




def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    print(f"CPU: {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, {args.threads} threads, "
          f"batch {args.batch}, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    rates = [matmul_gflops()]
    print(f"fp32 matmul 2048 x 2048: {rates[0]:.1f} GFLOP/s", flush=True)
    rows = []
    for name in args.models.split(","):
        model, step = make_step(name, args.batch, torch.Generator().manual_seed(1))
        times = []
        for _ in range(args.steps + 1):
            start = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - start)
            if not torch.isfinite(torch.tensor(loss)):
                raise FloatingPointError(f"{name}: loss {loss}")
        with FlopCounterMode(display=False, custom_mapping=LSTM_FLOPS) as counter:
            step()
        n_params = sum(p.numel() for p in model.parameters())
        rows.append((name, n_params, min(times[1:]), times[0], counter.get_total_flops()))
        print(f"  {name}: warm-up {times[0]:.2f} s, timed {', '.join(f'{t:.2f}' for t in times[1:])} s", flush=True)
        del model, step
    rates.append(matmul_gflops())
    print(f"fp32 matmul 2048 x 2048 after the models: {rates[1]:.1f} GFLOP/s; reference {max(rates):.1f}")

    print(f"\n{'model':12s}{'params':>13s}{'s/step':>9s}{'samples/s':>11s}{'GFLOP/step':>12s}{'GFLOP/s':>9s}"
          f"{'of matmul':>11s}")
    for name, n_params, best, _, flops in rows:
        achieved = flops / best / 1e9
        print(f"{name:12s}{n_params:13,d}{best:9.3f}{args.batch / best:11.1f}{flops / 1e9:12.1f}{achieved:9.1f}"
              f"{achieved / max(rates):10.1%}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
