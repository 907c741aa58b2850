"""sdt/train/run.py's learning-rate schedule as a training run applies it: the release's MultiStepLR at epochs E-10
and E-2 with gamma 0.1, stepped once per epoch (core/pipelines/*.py: milestones [NUM_EPOCHS-10, NUM_EPOCHS-2])."""

import pandas as pd
import pytest
import torch
from synthetic import synthetic_clips

from sdt.train.config import TrainSettings
from sdt.train.train import train


@pytest.fixture(scope="module", autouse=True)
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_release_milestones_for_100_epochs():
    assert TrainSettings().milestones() == [90, 98]  # the release's E-10, E-2
    assert TrainSettings(epochs=12, lr_milestones=(5, -2)).milestones() == [5, 10]  # positive = an epoch number


def test_learning_rate_of_every_epoch(tmp_path):
    """12 epochs: the release runs epochs 1-2 at lr, 3-10 at lr/10 and 11-12 at lr/100 (MultiStepLR counts epochs
    from 0 and steps after each; milestones 12-10 = 2 and 12-2 = 10)."""
    clips = synthetic_clips(tmp_path / "clips", n_train=4, n_dev=2)
    settings = {**TrainSettings().as_dict(), "epochs": 12, "batch_size": 2, "max_steps_per_epoch": 1,
                "video_format": []}  # no videos: 12 epochs of them would cost more than the test
    train("pose_vae", clips, str(tmp_path / "vae.pt"), str(tmp_path / "history.csv"), str(tmp_path / "run"), settings,
          threads=1, progress=False)
    lr = pd.read_csv(tmp_path / "history.csv")["lr"].tolist()
    assert lr == pytest.approx([1e-4] * 2 + [1e-5] * 8 + [1e-6] * 2, rel=1e-9)


def test_template_table_learning_rate_scale(tmp_path):
    """SDT-BP's table has its own Adam at lr x template_lr_scale (the release's CLIP_CODE.LR_SCALING, default 1):
    after one step from the zero table, a row moves by about that learning rate (Adam's first step is ~lr)."""
    from sdt.poses import load_stats
    from sdt.train.run import Run

    clips = synthetic_clips(tmp_path / "clips", n_train=4, n_dev=2)
    stats = load_stats(clips["stats"])
    steps = {}
    for scale in (1.0, 100.0):
        torch.manual_seed(0)
        run = Run("sdt_bp", TrainSettings(lr=1e-3, template_lr_scale=scale), stats, 4, torch.device("cpu"))
        assert run.opts["netG"].param_groups[0]["lr"] == 1e-3
        assert run.opts["templates"].param_groups[0]["lr"] == pytest.approx(1e-3 * scale)
        run.templates.grad = torch.ones_like(run.templates)
        run.opts["templates"].step()
        steps[scale] = run.templates.detach().abs().max().item()
    assert steps[1.0] == pytest.approx(1e-3, rel=1e-3) and steps[100.0] == pytest.approx(0.1, rel=1e-3)
