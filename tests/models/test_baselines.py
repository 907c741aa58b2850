"""The Table 2 baselines: Audio to Body Dynamics (models/audio2body.py) with its MFCC input (models/features.py), and
MoGlow (models/moglow.py).  Shapes, parameter counts from the layer sizes, that both learn, and that MoGlow's
flow is exact (round trip, log-determinant against the brute-force Jacobian, causality, temperature 0)."""

import math

import numpy as np
import pytest
import torch
from signals import speechlike

from models.audio2body import Audio2Body, Audio2BodyConfig, audio2body_loss
from models.blocks import Standardize
from models.features import MFCC, deltas, pose_frame_count, pose_rate_pooling
from models.moglow import ActNorm, InvConv1x1, MoGlow, MoGlowConfig, moglow_nll

CLIP = 68266  # samples of one 64-frame clip (docs/dataset.md §11)
N_MEL = 427  # its mel frames (docs/dataset.md §15)
TINY_FLOW = dict(n_points=3, n_mels=4, hidden=8, n_steps=3, n_prev=2, mel_past=1, mel_future=2)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny LSTMs run fastest on one thread, and this machine's 2 cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------- MFCC


def test_mfcc_equals_librosa_features_pooled_to_the_pose_frames():
    import librosa

    wav = speechlike(CLIP)
    got = MFCC()(torch.from_numpy(wav)[None])[0].numpy()
    assert got.shape == (28, 64)
    mel = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80,
                                         fmin=55, fmax=7500, htk=True, norm=None, power=2.0, center=True,
                                         pad_mode="reflect")
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13)  # DCT-II ortho, no lifter
    rms = librosa.feature.rms(y=wav, frame_length=400, hop_length=160, center=True, pad_mode="reflect")
    static = np.concatenate([mfcc, librosa.power_to_db(rms**2, top_db=None)])  # [14, 427]
    full = np.concatenate([static, librosa.feature.delta(static, width=5, order=1, mode="nearest")])
    assert full.shape == (28, N_MEL)
    # pose frame k (time stamp k/15 s) = mean of the 10 ms frames centred within 1/30 s of it, in float seconds
    centres = np.arange(N_MEL) * 0.01
    want = np.stack([full[:, (centres >= (k - 0.5) / 15 - 1e-9) & (centres < (k + 0.5) / 15 - 1e-9)].mean(axis=1)
                     for k in range(64)], axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def test_deltas_equal_librosa_at_the_edges_too():
    import librosa

    x = np.random.default_rng(1).standard_normal((3, 5, 40)).astype(np.float32)
    for n in (1, 2, 4):
        want = librosa.feature.delta(x, width=2 * n + 1, order=1, mode="nearest")
        np.testing.assert_allclose(deltas(torch.from_numpy(x), n).numpy(), want, rtol=0, atol=1e-5)
    slope = deltas(torch.arange(10.0) * 3)  # a ramp of 3 per frame, continued flat past its ends
    torch.testing.assert_close(slope[2:-2], torch.full((6,), 3.0))
    assert slope[0] == pytest.approx(3 * 5 / 10)  # (1 * (3 - 0) + 2 * (6 - 0)) / (2 * (1 + 4))


def test_pose_frames_tile_the_audio_frames():
    assert pose_frame_count(CLIP) == 64 and pose_frame_count((N_MEL - 1) * 160 + 1) == 64
    assert pose_frame_count(16000) == 15 and pose_frame_count(16001) == 16  # frame 15 is at 1 s = sample 16000
    pool = pose_rate_pooling(N_MEL, 64).numpy()  # [427, 64]
    members = pool > 0
    assert (members.sum(axis=1) <= 1).all()  # no audio frame in two pose frames
    counts = members.sum(axis=0)
    assert counts[0] == 4 and set(counts[1:]) == {6, 7}  # frame 0: audio frames 0-3 (t < 1/30 s)
    np.testing.assert_allclose(pool.sum(axis=0), 1, rtol=1e-6)  # averages
    assert members[:424].any(axis=1).all() and not members[424:].any()  # frame 63: audio frames 417-423
    with pytest.raises(ValueError, match="too short"):
        pose_rate_pooling(96, 16)  # frame 15 (1 s) needs the audio frames centred from 0.967 s (97) on


def test_mfcc_frame_alignment_with_the_poses():
    """A 1 kHz burst that sounds exactly during pose frame k's 1/15 s shows in the log energy of frame k."""
    rng = np.random.default_rng(2)
    wav = 1e-3 * rng.standard_normal(CLIP).astype(np.float32)
    for k in (0, 17, 63):
        burst = wav.copy()
        start, stop = max(0, round((k - 0.5) * 16000 / 15)), round((k + 0.5) * 16000 / 15)
        burst[start:stop] += np.sin(2 * np.pi * 1000 * np.arange(stop - start) / 16000).astype(np.float32)
        energy = MFCC()(torch.from_numpy(burst))[13].numpy()  # [64] log energy, dB
        assert int(np.argmax(energy)) == k
        quiet = np.delete(energy, [i for i in (k - 1, k, k + 1) if 0 <= i < 64])  # 25 ms windows overlap
        assert energy[k] > quiet.max() + 30
    assert MFCC()(torch.zeros(2, 16000)).shape == (2, 28, 15)  # 1 s: frames at 0 .. 14/15 s


# ---------------------------------------------------------------- Audio to Body Dynamics


def test_audio2body_parameter_counts():
    # one part: LSTM 4H(I + H) weights + 8H biases (b_ih and b_hh) = 4*800*(28 + 800) + 8*800 = 2,656,000,
    # trainable initial h0, c0: 2*800; linear 800 * 2P + 2P.  Parts: body P = 9, face 70, hands 42:
    # 3 * (2,656,000 + 1,600) + (800*18 + 18) + (800*140 + 140) + (800*84 + 84) = 7,972,800 + 193,842
    assert n_params(Audio2Body(Audio2BodyConfig())) == 8_166_642
    # the release's split, one LSTM per hand: 4 * 2,657,600 + 14,418 + 112,140 + 2 * (800*42 + 42)
    assert n_params(Audio2Body(Audio2BodyConfig(separate_hands=True))) == 10_824_242


def test_audio2body_maps_a_clip_to_64_poses_and_is_deterministic_in_eval():
    torch.manual_seed(0)
    model = Audio2Body(Audio2BodyConfig(hidden=16)).eval()
    mfcc = MFCC()(torch.from_numpy(np.stack([speechlike(CLIP, seed=s) for s in range(3)])))  # [3, 28, 64]
    model.fit_input_stats(mfcc)
    poses = model(mfcc)
    assert poses.shape == (3, 64, 2, 121)
    torch.testing.assert_close(model(mfcc), poses, rtol=0, atol=0)
    torch.testing.assert_close(model(mfcc[1:2]), poses[1:2], rtol=1e-5, atol=1e-6)  # batched = alone
    assert set(model.state_dict()) >= {"input_norm.mean", "input_norm.std"}  # a checkpoint carries them


def test_audio2body_each_lstm_writes_its_points():
    """body = 121-points 0-8, face 9-78, hands 79-120 (docs/dataset.md §3); with separate hands 79-99 and 100-120."""
    for separate, names in ((False, ("body", "face", "hands")),
                            (True, ("body", "face", "left_hand", "right_hand"))):
        model = Audio2Body(Audio2BodyConfig(hidden=4, separate_hands=separate)).eval()
        assert tuple(model.parts) == names
        with torch.no_grad():
            for i, part in enumerate(model.parts.values()):
                part.fc.weight.zero_()
                part.fc.bias.fill_(i + 1)
        got = model(torch.randn(2, 28, 5))[0, 0, 0]  # x of every point, frame 0
        want = torch.ones(121)
        want[9:79], want[79:] = 2, 3
        if separate:
            want[100:] = 4
        torch.testing.assert_close(got, want)


def test_audio2body_output_t_hears_the_audio_up_to_t_plus_delay():
    torch.manual_seed(1)
    model = Audio2Body(Audio2BodyConfig(hidden=8, delay=3)).eval()
    mfcc = torch.randn(1, 28, 20)
    base = model(mfcc)
    changed = mfcc.clone()
    changed[:, :, 12] += 5  # audio frame 12
    diff = (model(changed) - base).abs().amax(dim=(0, 2, 3))  # [20] per output frame
    assert (diff[:9] == 0).all()  # frames 0-8 have heard audio up to 11 at most
    assert (diff[9:] > 1e-4).all()  # frame 9 = 12 - delay on
    assert (Audio2Body(Audio2BodyConfig(hidden=8, delay=0)).eval()(changed) != 0).any()


def test_audio2body_loss_is_the_per_frame_sum_of_squares():
    pred, target = torch.zeros(2, 4, 2, 121), torch.ones(2, 4, 2, 121)
    assert audio2body_loss(pred, target).item() == 242.0  # 242 coordinates of error 1 per frame
    target[1] = 3  # clip 1: 242 * 9 per frame; mean over clips (242 + 2178) / 2
    assert audio2body_loss(pred, target).item() == 1210.0


def test_audio2body_learns():
    torch.manual_seed(0)
    mfcc = torch.randn(8, 28, 16) * 20 + 5  # raw-scale features: the input standardisation must handle them
    mix = torch.randn(242, 28) / math.sqrt(28)
    target = torch.tanh(torch.einsum("pc,bct->btp", mix, (mfcc - 5) / 20)).reshape(8, 16, 2, 121)
    model = Audio2Body(Audio2BodyConfig(hidden=32)).fit_input_stats(mfcc)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(40):
        loss = audio2body_loss(model(mfcc), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.4 * losses[0]


def test_standardize_fits_training_statistics():
    norm = Standardize(3)
    x = torch.randn(5, 3, 50) * torch.tensor([1.0, 10.0, 100.0])[:, None] + torch.tensor([0.0, -5.0, 300.0])[:, None]
    torch.testing.assert_close(norm(x), x)  # identity before fit
    y = norm.fit(x)(x)
    torch.testing.assert_close(y.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(0, 2), unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


@pytest.mark.parametrize("bad", [dict(delay=-1), dict(hidden=0), dict(dropout=1.0)])
def test_audio2body_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        Audio2BodyConfig(**bad)


# ---------------------------------------------------------------- MoGlow


def tiny_flow(seed=0, **overrides):
    """A tiny MoGlow in float64, ActNorm initialised on data and every parameter moved off its initial value
    (the couplings start as near-identities with zero output layers, which would hide mistakes)."""
    torch.manual_seed(seed)
    model = MoGlow(MoGlowConfig(**{**TINY_FLOW, **overrides})).double()
    mel = torch.rand(2, 4, 107, dtype=torch.float64) + 0.1  # 107 mel frames span 16 pose frames
    poses = torch.randn(2, 16, 2, 3, dtype=torch.float64)
    model.fit_input_stats(mel)
    model(poses, mel)  # training mode: ActNorm's data-dependent initialisation
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval(), poses, mel


def test_moglow_parameter_count():
    # D = 242, n_b = 121, conditioning C = 5 previous poses * 242 + 21 audio frames * 80 mels = 1210 + 1680.
    # Per step: ActNorm 2D = 484; 1x1 conv D^2 = 58,564 (strict L and U triangles + log s);
    # LSTM layer 1, input 121 + C = 3011: 4*800*(3011 + 800) + 8*800 = 12,201,600;
    # layer 2: 4*800*(800 + 800) + 8*800 = 5,126,400; output linear 800*242 + 242 = 193,842.
    # 17,580,890 per step, 12 steps.
    with torch.device("meta"):  # counts shapes without allocating 0.8 GB
        model = MoGlow(MoGlowConfig())
    assert MoGlowConfig().cond_dim == 2890
    assert n_params(model) == 12 * 17_580_890 == 210_970_680


def test_moglow_shapes_on_a_clip():
    torch.manual_seed(0)
    model = MoGlow(MoGlowConfig(hidden=8, n_steps=2))
    mel = torch.rand(2, 80, N_MEL)
    poses = torch.randn(2, 64, 2, 121)
    z, logdet = model(poses, mel)
    assert z.shape == (2, 64, 242) and logdet.shape == (2, 64)
    assert model.nll(poses, mel).shape == ()
    assert model.eval().sample(mel).shape == (2, 64, 2, 121)  # 427 mel frames -> 64 pose frames
    assert model.sample(mel, n_frames=10).shape == (2, 10, 2, 121)


def test_actnorm_data_dependent_init_gives_zero_mean_unit_variance():
    norm = ActNorm(4)
    x = torch.randn(8, 30, 4) * torch.tensor([0.1, 1.0, 5.0, 50.0]) + torch.tensor([3.0, -2.0, 0.0, 100.0])
    norm.eval()(x)
    assert not norm.initialized  # only a training batch initialises (Glow)
    y, logdet = norm.train()(x)
    assert norm.initialized
    torch.testing.assert_close(y.mean(dim=(0, 1)), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 1), unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
    want = -torch.log(x.reshape(-1, 4).std(dim=0, unbiased=False)).sum()
    torch.testing.assert_close(logdet, want.expand(8, 30), rtol=1e-4, atol=1e-4)
    y2, _ = norm(x * 3)  # a second batch is transformed, not used to initialise again
    torch.testing.assert_close(y2.var(dim=(0, 1), unbiased=False), torch.full((4,), 9.0), atol=1e-3, rtol=1e-4)
    fresh = ActNorm(4)
    fresh.load_state_dict(norm.state_dict())
    assert fresh.initialized


def test_invconv_logdet_is_the_log_determinant_of_w():
    torch.manual_seed(3)
    conv = InvConv1x1(6).double()
    with torch.no_grad():
        for p in conv.parameters():
            p.add_(0.2 * torch.randn_like(p))
    lower, upper = conv.factors()
    w = conv.perm @ lower @ upper
    x = torch.randn(2, 5, 6, dtype=torch.float64)
    y, logdet = conv(x)
    torch.testing.assert_close(y, torch.einsum("ij,btj->bti", w, x))
    torch.testing.assert_close(logdet, torch.linalg.slogdet(w)[1].expand(2, 5))
    torch.testing.assert_close(conv.inverse(y), x)
    assert n_params(conv) == 36


def test_moglow_round_trips_exactly():
    model, poses, mel = tiny_flow()
    z, _ = model(poses, mel)
    assert (poses.reshape(2, 16, 6) - z).abs().max() > 0.1  # not the identity
    torch.testing.assert_close(model.inverse(z, mel), poses, rtol=0, atol=1e-5)
    zr = torch.randn(2, 16, 6, dtype=torch.float64)
    torch.testing.assert_close(model(model.inverse(zr, mel), mel)[0], zr, rtol=0, atol=1e-5)


def test_moglow_logdet_equals_the_brute_force_jacobian_and_is_causal():
    model, poses, mel = tiny_flow(seed=1)
    x = poses[:1, :5].reshape(-1)  # one clip, 5 frames: a 30 x 30 Jacobian

    def flow(v):
        return model(v.reshape(1, 5, 2, 3), mel[:1])[0].reshape(-1)

    jac = torch.autograd.functional.jacobian(flow, x)  # [30, 30]: dz / dx
    sign, logabsdet = torch.linalg.slogdet(jac)
    assert sign != 0
    logdet = model(x.reshape(1, 5, 2, 3), mel[:1])[1]  # [1, 5]
    torch.testing.assert_close(logdet.sum(), logabsdet, rtol=1e-8, atol=1e-8)
    blocks = jac.reshape(5, 6, 5, 6)
    for t in range(5):  # z_t depends on no later frame, and frame t's block carries logdet_t
        assert (blocks[t, :, t + 1:] == 0).all()
        assert t == 0 or blocks[t, :, :t].abs().max() > 0  # ... but on earlier ones (previous poses, LSTM state)
        torch.testing.assert_close(torch.linalg.slogdet(blocks[t, :, t])[1], logdet[0, t])


def test_moglow_temperature_zero_is_deterministic_and_inverts_z_zero():
    model, _, mel = tiny_flow(seed=2)
    first = model.sample(mel, temperature=0.0, generator=torch.Generator().manual_seed(0))
    second = model.sample(mel, temperature=0.0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first, model.inverse(torch.zeros(2, 16, 6, dtype=torch.float64), mel))
    torch.testing.assert_close(model(first, mel)[0], torch.zeros(2, 16, 6, dtype=torch.float64), rtol=0, atol=1e-8)
    warm = model.sample(mel, temperature=0.7, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(model.sample(mel, 0.7, torch.Generator().manual_seed(5)), warm, rtol=0, atol=0)
    assert (warm - first).abs().max() > 1e-3
    assert (model.sample(mel, 0.7, torch.Generator().manual_seed(6)) - warm).abs().max() > 1e-3


def test_moglow_pose_dropout_acts_only_in_training():
    model, poses, mel = tiny_flow(seed=4, pose_dropout=0.5)
    torch.testing.assert_close(model(poses, mel)[0], model(poses, mel)[0], rtol=0, atol=0)  # eval
    model.train()
    assert (model(poses, mel)[0] - model(poses, mel)[0]).abs().max() > 1e-6


def test_moglow_nll_units():
    z, logdet = torch.zeros(2, 3, 4), torch.zeros(2, 3)
    assert moglow_nll(z, logdet).item() == pytest.approx(0.5 * math.log(2 * math.pi))  # nats per value
    logdet[:] = 12.0  # 12 nats of volume per frame of 4 values: 3 nats less per value
    assert moglow_nll(z, logdet).item() == pytest.approx(0.5 * math.log(2 * math.pi) - 3)


def test_moglow_learns():
    torch.manual_seed(0)
    model = MoGlow(MoGlowConfig(n_points=4, n_mels=8, hidden=16, n_steps=2, n_prev=2, mel_past=1, mel_future=1))
    mel = torch.rand(16, 8, 107) ** 4 * 10
    model.fit_input_stats(mel)
    audio = model.mel_norm(model.pose_rate_mel(mel, 16)).transpose(1, 2)  # [16, 16, 8]: what the flow hears
    mix = torch.randn(8, 8) / math.sqrt(8)
    poses = (torch.tanh(audio @ mix.T) + 0.05 * torch.randn(16, 16, 8)).reshape(16, 16, 2, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = model.nll(poses, mel)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.75  # nats per value


@pytest.mark.parametrize("bad", [dict(n_steps=0), dict(n_prev=-1), dict(pose_dropout=1.0)])
def test_moglow_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        MoGlowConfig(**bad)
