"""The default training path computes the release's numbers: one full-size train-mode step (batch 32, the real
clip and mel sizes) of each U-Net method and norm kind, as sdt.train.run.Run builds it on this machine, against the
release's formulation built apart (plain conv -> norm -> LeakyReLU ops, NCHW, the same weights), weights after one
Adam step equal to 1e-5.  (The fused blocks and channels-last layout, now train.fast's, were 2e-4 off: issue 20.)"""

import numpy as np
import pytest
import torch
from conftest import train_settings

from models.blocks import ConvNormRelu
from sdt.train.run import Run

BATCH, N_TRAIN, TOL = 32, 64, 1e-5
METHODS = {"BN": "s2g", "IN": "in_global", "IN*": "sdt_bp"}  # S2G: BN + its LSGAN discriminator; SDT-BP: templates


def synthetic_stats():
    rng = np.random.default_rng(0)
    stats = {k: rng.normal(size=(2, 121)).astype(np.float32) for k in ("mean_parted", "mean_global")}
    stats.update({k: rng.uniform(1, 2, (2, 121)).astype(np.float32) for k in ("std_parted", "std_global")})
    return {**stats, "scale_factor": 1.0, "scale_rule": "shoulder_width", "n_train_clips": N_TRAIN}


def release_forward(self, x):  # the release's block, whatever the module's own choice
    return self.act(self.norm(self.conv(x)))


def one_step(method, release, monkeypatch):
    """{parameter: value} after one training step of ``method`` from seed-0 weights on a fixed random batch."""
    torch.manual_seed(0)
    run = Run(method, train_settings(validate_ftd=False, video_format=[]), synthetic_stats(), N_TRAIN,
              torch.device("cpu"))
    if release:
        for net in run.nets.values():
            net.to(memory_format=torch.contiguous_format)
        monkeypatch.setattr(ConvNormRelu, "forward", release_forward)
    run.train_mode(True)
    g = torch.Generator().manual_seed(1)
    batch = {"audio": torch.randn(BATCH, 68266, generator=g) * 0.1,  # 4.27 s at 16 kHz: [B, 80, 427] mels
             "poses": torch.randn(BATCH, 64, 2, 121, generator=g),
             "index": torch.randperm(N_TRAIN, generator=g)[:BATCH].sort().values}
    run.ops.step(run, batch)
    monkeypatch.undo()
    return {f"{k}.{n}": p.detach().clone() for k, net in run.nets.items() for n, p in net.named_parameters()}


@pytest.mark.parametrize("norm", list(METHODS))
def test_default_step_is_the_release_formulation(norm, monkeypatch):
    method = METHODS[norm]
    got, want = one_step(method, False, monkeypatch), one_step(method, True, monkeypatch)
    assert list(got) == list(want)
    worst = max(((got[k] - want[k]).abs().max().item(), k) for k in want)
    assert worst[0] <= TOL, f"{method} ({norm}): weights after one step {worst[0]:.2e} off the release's ({worst[1]})"
