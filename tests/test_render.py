"""Skeleton rendering (sdt/render.py): real ffmpeg videos with sound, what a decoded frame shows, the panel
grid, the strip image, and the report's figures."""

import cv2
import numpy as np
import pandas as pd
import pytest

from sdt import render
from sdt.demo.plot_templates import neighbour_ratio, pca_2d, plot_templates
from sdt.demo.plot_training import curve_groups, plot_training
from sdt.media import probe, run_ffmpeg

PANEL = (240, 320)  # small panels keep the tests fast


def synthetic_poses(n_frames=30, seed=0):
    """A moving upper body [T, 2, 121] in final-result px (neck-relative, y down; the person faces us, so
    their right side is on the image's left): arms swing, hands follow the wrists, the head nods."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None] / 15.0
    swing = 40 * np.sin(2 * np.pi * 0.8 * t + rng.uniform(0, 1))  # [T, 1]
    nod = 8 * np.sin(2 * np.pi * 1.3 * t)
    p = np.zeros((n_frames, 2, 121))

    def put(i, x, y):
        p[:, 0, i], p[:, 1, i] = x, y

    put(0, 0, -140 + nod[:, 0])  # nose
    for side, sign in ((1, -1), (4, 1)):  # R shoulder/elbow/wrist on the left of the image, L on the right
        put(side, sign * 160, 10)
        put(side + 1, sign * 200, 170 + swing[:, 0] * sign * 0.3)
        put(side + 2, sign * 120 + swing[:, 0], 290 - swing[:, 0] * 0.5)
    put(7, -30, -165 + nod[:, 0])  # R eye
    put(8, 30, -165 + nod[:, 0])  # L eye
    a = np.linspace(0, 2 * np.pi, 70, endpoint=False)
    p[:, 0, 9:79] = 60 * np.cos(a)
    p[:, 1, 9:79] = -150 + 80 * np.sin(a) + nod
    for wrist, first in ((6, 79), (3, 100)):  # hands fan out below their wrists
        ang = np.pi / 2 + np.linspace(-0.8, 0.8, 5)
        p[:, :, first] = p[:, :, wrist]
        for f in range(5):
            for j in range(4):
                r = 18 * (j + 1)
                p[:, 0, first + 1 + 4 * f + j] = p[:, 0, wrist] + r * np.cos(ang[f])
                p[:, 1, first + 1 + 4 * f + j] = p[:, 1, wrist] + r * np.sin(ang[f])
    return p.astype(np.float32)


def decode_frame(path, index, size):
    """Frame ``index`` of a video as BGR uint8 [H, W, 3]."""
    raw = run_ffmpeg(["-i", path, "-vf", f"select=eq(n\\,{index})", "-frames:v", "1", "-f", "rawvideo",
                      "-pix_fmt", "bgr24", "-"], path, "decoding")
    return np.frombuffer(raw, np.uint8).reshape(*size, 3)


def sine(n, rate=16000, hz=220.0):
    return (0.2 * np.sin(2 * np.pi * hz * np.arange(n) / rate)).astype(np.float32)


def test_video_has_one_frame_per_pose_at_15_fps_and_the_speech(tmp_path):
    poses = synthetic_poses(37)
    out = tmp_path / "pair.mp4"
    n_samples = int(37 * 16000 / 15)
    n = render.render_video(out, [poses, poses * 0.9], ["prediction", "ground truth"], sine(n_samples),
                            panel=PANEL)
    info = probe(out)
    assert n == 37 and info["n_frames"] == 37 and info["fps"] == 15.0
    assert (info["width"], info["height"]) == (2 * PANEL[1], PANEL[0])
    assert info["has_audio"] and info["audio_codec"] == "aac" and info["audio_rate"] == 16000
    assert info["duration"] == pytest.approx(37 / 15, abs=0.01)
    assert [p.name for p in tmp_path.iterdir()] == ["pair.mp4"]  # no temporary file left


def _near(img, xy, r=4):
    x, y = int(round(xy[0])), int(round(xy[1]))
    return img[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].reshape(-1, 3).astype(int)


def test_decoded_frame_shows_body_and_hands_in_their_colours(tmp_path):
    poses = synthetic_poses(6)
    out = tmp_path / "one.mp4"
    render.render_video(out, [poses], ["speaker"], panel=PANEL)
    frame = decode_frame(out, 3, PANEL)
    view = render.PanelLayout(1, PANEL, ["speaker"]).fit([poses])
    px = poses[3].T * view.scale + np.asarray(view.origin)  # [121, 2] where each point was drawn

    shoulder_mid = (px[1] + px[4]) / 2  # the line R shoulder - neck - L shoulder passes the neck (origin)
    neck = np.asarray(view.origin)
    body = _near(frame, (neck + px[4]) / 2)
    assert ((body[:, 1] - body[:, 2] > 60) & (body[:, 1] - body[:, 0] > 60)).any(), "no green body line"
    left = _near(frame, (px[79] + px[79 + 11]) / 2)  # the person's left hand: middle finger
    right = _near(frame, (px[100] + px[100 + 11]) / 2)
    assert (left[:, 0] - left[:, 2] > 100).any(), "the left hand is not blue"
    assert (right[:, 2] - right[:, 0] > 100).any(), "the right hand is not orange"
    assert px[79, 0] > px[100, 0]  # the left hand is on the image's right: the person faces the viewer
    assert (_near(frame, shoulder_mid + (0, 60)) > 235).all()  # empty chest: white background
    assert (frame[-5:, -5:] > 235).all()
    assert (frame < 200).any(axis=2).mean() < 0.2  # lines, not a filled picture


def test_panels_grid_and_strip_sizes():
    assert [render.grid_shape(k) for k in (1, 2, 3, 4, 5, 9, 10)] == [
        (1, 1), (1, 2), (2, 2), (2, 2), (2, 3), (3, 3), (3, 4)]
    grid = render.PanelLayout(5, (101, 80), titles=list("abcde"))
    assert grid.size == (2 * 102, 3 * 80)  # panels made even for yuv420p
    frames = list(grid.frames([synthetic_poses(2)] * 5))
    assert len(frames) == 2 and frames[0].shape == (*grid.size, 3)
    for i in range(5):  # every panel has a drawing
        y, x = grid.corner(i)
        assert (frames[0][y + grid.title_h:y + grid.ph, x:x + grid.pw] < 200).any()
    y, x = grid.corner(5)  # the sixth cell is empty
    assert (frames[0][y + 2:y + grid.ph - 2, x + 2:x + grid.pw - 2] == 255).all()

    strip = render.strip_image([synthetic_poses(40)] * 3, ["a", "b", "c"], n=5, panel=(120, 90))
    assert strip.shape[1] == 45 + 5 * 90 and 3 * 120 < strip.shape[0] < 3 * 120 + 40


def test_every_point_is_fitted_into_the_panel():
    poses = synthetic_poses(20) * 3.0 + 500  # far from the origin and large
    view = render.fit_view([poses], PANEL, top=20)
    px = np.moveaxis(poses, 1, 2).reshape(-1, 2) * view.scale + np.asarray(view.origin)
    assert px[:, 0].min() >= 0 and px[:, 0].max() <= PANEL[1]
    assert px[:, 1].min() >= 20 and px[:, 1].max() <= PANEL[0]


def test_non_finite_points_are_skipped():
    pose = synthetic_poses(1)[0]
    pose[:, 3] = np.nan  # the right wrist
    img = np.full((*PANEL, 3), 255, np.uint8)
    render.draw_pose(img, pose, render.fit_view([pose[:, :3]], PANEL))
    assert (img < 200).any()


def test_bad_inputs_leave_no_video(tmp_path):
    poses = synthetic_poses(10)
    out = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="longer than the 10 frames"):
        render.render_video(out, [poses], audio=sine(16000 * 2), panel=PANEL)  # 2 s of speech, 0.67 s of video
    grid = render.PanelLayout(1, PANEL)
    with pytest.raises(ValueError, match="9 frames were given for a video of 10"):
        render.write_video(out, grid.frames([poses[:9]]), 10, grid.size)
    with pytest.raises(ValueError, match="even frame size"):
        render.write_video(out, [], 0, (121, 160))
    assert list(tmp_path.iterdir()) == []


def test_training_curves_and_template_projection(tmp_path):
    histories = {}
    for method, extra in (("pose_vae", {"kl": [0.5, 0.3]}), ("s2g", {"g_gan": [0.2, 0.3], "d_loss": [0.5, 0.4]})):
        path = tmp_path / f"{method}.csv"
        pd.DataFrame({"epoch": [1, 2], "step": [2, 4], "lr": [1e-4, 1e-4], "loss": [1.0, 0.8], "l1": [0.9, 0.7],
                      **extra, "val_l1": [0.95, np.nan], "val_l2": [40.0, 35.0], "seconds": [1.0, 1.1]}).to_csv(path)
        histories[method] = path
    plot_training(histories, tmp_path / "curves.png")
    img = cv2.imread(str(tmp_path / "curves.png"))
    assert img is not None and img.shape[0] > 300 and (img < 200).any()
    # a generator validated with FTD: a third column of FTD per epoch
    path = tmp_path / "sdt_bp.csv"
    pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.8], "val_L2": [40.0, 35.0], "val_FTD": [9.0, 4.0],
                  "val_FTD_mu_logvar": [20.0, 11.0], "val_seconds": [0.5, 0.5]}).to_csv(path, index=False)
    assert curve_groups(pd.read_csv(path).columns) == {"training": ["loss"], "validation": ["val_L2"],
                                                        "FTD": ["val_FTD", "val_FTD_mu_logvar"]}
    plot_training({**histories, "sdt_bp": path}, tmp_path / "with_ftd.png")
    wide = cv2.imread(str(tmp_path / "with_ftd.png"))
    assert wide.shape[1] > 1.4 * img.shape[1] and wide.shape[0] > img.shape[0]
    # the FTD panels of the models that recorded none (rows 1-2 of 3) hold a line of text, not empty axes
    third, dark = wide.shape[1] // 3, lambda panel: (panel < 100).mean()
    rows = np.array_split(wide[:, 2 * third:], 3)
    assert dark(rows[0]) < 0.2 * dark(rows[2]) and dark(rows[1]) < 0.2 * dark(rows[2])

    rng = np.random.default_rng(0)
    line = np.outer(np.arange(20.0), rng.normal(size=8))  # templates on a line: one principal axis
    proj, ratio = pca_2d(line)
    assert ratio[0] > 0.999 and np.allclose(np.abs(np.diff(proj[:, 0])), np.linalg.norm(line[1] - line[0]))
    # neighbours on a line are 1 step apart, random pairs |i - j| steps (7 on average for 20 rows): ratio ~1/7
    assert 0.1 < neighbour_ratio(line) < 0.2 and 0.8 < neighbour_ratio(rng.normal(size=(400, 8))) < 1.2
    two_videos = np.repeat(["v0", "v1"], 10)  # the jump between the videos' rows (row 9 -> 10) is not a neighbour
    jumpy = np.vstack([line[:10], line[:10] + 100])
    assert neighbour_ratio(jumpy, two_videos) < 0.1 < neighbour_ratio(jumpy)
    tables = {"SDT-BP": line + rng.normal(scale=0.1, size=line.shape), "SDT-VAE": rng.normal(size=(20, 8))}
    plot_templates(tables, tmp_path / "templates.png", groups=np.repeat(["v0", "v1"], 10))
    assert cv2.imread(str(tmp_path / "templates.png")) is not None
