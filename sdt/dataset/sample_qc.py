"""Rule sample_qc: what MediaPipe sees of the sample speaker's videos: does the speaker gesture, and do the
gestures have structure?

:func:`sample_qc` (the rule) measures the workflow's own detections (detect_keypoints on the 15 fps videos of
change_fps, after its static second pass); :func:`measure` (for tests) decodes a video at 15 fps itself and runs
MediaPipe Holistic in tracking mode on every frame.  Both report, per video:

- ``complete``: fraction of frames with a complete person (body, face and both hands), which every frame of a
  64-frame training clip needs;
- ``wrist_std_right`` / ``wrist_std_left``: how far each wrist moves: the RMS over x and y of its standard
  deviation over the video's frames, in mean shoulder widths (frames where the body was found);
- ``mouth_r``: Pearson correlation of the detected mouth opening (inner lip centres, face points 62 and 66) with
  the speech's loudness envelope (RMS per frame, 80 ms Gaussian smoothing);
- ``template_nn`` and ``template_chance``: with the per-frame template labels, one-second windows that lie
  inside one phrase (transition done) with a complete person are described by the mean and spread of their arm
  keypoints (neck-relative, in shoulder widths); for each window whose template also occurs in another phrase,
  its nearest neighbour among the windows of *other* phrases has the same template this often
  (``template_windows`` windows), against ``template_chance``, the rate for a neighbour drawn at random from
  those windows.
"""

import logging
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from sdt import layout
from sdt.dataset.av_sync import lip_opening, loudness_envelope
from sdt.dataset.detect_keypoints import MediaPipeDetector
from sdt.dataset.keypoints import load_pose_file
from sdt.dataset.make_sample_video import FPS as VIDEO_FPS
from sdt.dataset.make_sample_video import labels_path
from sdt.errors import InputError
from sdt.io import write_csv
from sdt.media import decode_audio, ffmpeg_exe, probe
from sdt.render import pyplot, save_figure

log = logging.getLogger(__name__)

ARM_POINTS = [2, 3, 4, 5, 6, 7]  # 137-layout RShoulder, RElbow, RWrist, LShoulder, LElbow, LWrist
AUDIO_RATE = 16000


def iter_frames(video, fps):
    """The frames of ``video`` resampled to ``fps`` by ffmpeg's fps filter (as change_fps does), RGB uint8."""
    info = probe(video, require_audio=False)
    w, h = info["width"], info["height"]
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(video), "-vf", f"fps={fps}", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        while True:
            raw = proc.stdout.read(w * h * 3)
            if len(raw) < w * h * 3:
                break
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def detect(video, fps=15):
    """MediaPipe Holistic on every frame at ``fps``: (pose [T, 3, 137] float32, found [T, 4] bool)."""
    det = MediaPipeDetector()
    poses, found = [], []
    try:
        for image in iter_frames(video, fps):
            p, f = det(image)
            poses.append(p)
            found.append(f)
    finally:
        det.close()
    return np.array(poses), np.array(found)


def envelope(video, n_frames, fps=15):
    """The speech's loudness envelope at ``fps`` (sdt.dataset.av_sync.loudness_envelope)."""
    return loudness_envelope(decode_audio(video, AUDIO_RATE), AUDIO_RATE, n_frames, fps=fps)


def wrist_std(pose, body):
    """Per wrist (right, left): RMS over x, y of the wrist's std over frames ``body``, in mean shoulder widths."""
    xy = pose[body, :2]  # (T, 2, 137)
    shoulder = np.linalg.norm(xy[:, :, 2] - xy[:, :, 5], axis=1).mean()
    return tuple(float(np.sqrt((xy[:, :, i].std(axis=0) ** 2).mean()) / shoulder) for i in (4, 7))


def mouth_correlation(pose, face, env):
    """Pearson r of the inner-lip distance (px, frames where the face was found) with the envelope."""
    gap = lip_opening(pose)
    return float(np.corrcoef(gap[face], env[face])[0, 1])


def window_features(pose, starts, length):
    """Per window: mean and std over its frames of the arm keypoints relative to the neck, in shoulder widths."""
    xy = pose[:, :2]
    neck = (xy[:, :, 2] + xy[:, :, 5]) / 2
    shoulder = np.linalg.norm(xy[:, :, 2] - xy[:, :, 5], axis=1).mean()
    rel = (xy[:, :, ARM_POINTS] - neck[:, :, None]).reshape(len(xy), -1) / shoulder  # (T, 12)
    return np.array([np.concatenate([rel[s:s + length].mean(0), rel[s:s + length].std(0)]) for s in starts])


def template_nn(pose, valid, phrase, template, weight, fps=15, window_s=1.0, stride=3):
    """(accuracy, chance, n windows) of nearest-neighbour template recognition across phrases (module doc)."""
    length = int(round(window_s * fps))
    ok = valid & (weight >= 1)
    starts = [s for s in range(0, len(pose) - length + 1, stride)
              if ok[s:s + length].all() and len(set(phrase[s:s + length])) == 1]
    if len(starts) < 2:
        return float("nan"), float("nan"), len(starts)
    feats = window_features(pose, starts, length)
    ph, tp = phrase[starts], template[starts]
    dist = np.linalg.norm(feats[:, None] - feats[None], axis=2)
    other = ph[:, None] != ph[None]  # neighbours from other phrases only
    dist[~other] = np.inf
    has = (other & (tp[:, None] == tp[None])).any(axis=1)  # its template has windows in another phrase
    if not has.any():
        return float("nan"), float("nan"), 0
    nearest = dist.argmin(axis=1)
    acc = float((tp[nearest] == tp)[has].mean())
    chance = float(np.mean([(tp[other[i]] == tp[i]).mean() for i in np.flatnonzero(has)]))
    return acc, chance, int(has.sum())


def frame_labels(labels_csv, n_frames, fps=15):
    """The template labels (the csv written next to a sample video) at ``fps``: each frame takes the label of the
    25 fps frame that ffmpeg's fps filter shows at its time."""
    labels = pd.read_csv(labels_csv)
    src = np.minimum(np.round(np.arange(n_frames) * VIDEO_FPS / fps).astype(int), len(labels) - 1)
    rows = labels.iloc[src]
    return rows["phrase"].to_numpy(), rows["template"].to_numpy(), rows["weight"].to_numpy()


def figures(pose, found, env, labels_csv, fps=15, window_s=1.0):
    """The QC figures (module doc) of one video's detections: pose [T, 3, 137], found [T, 4] bool, the speech
    envelope [T] and its template labels -> dict."""
    n = len(pose)
    valid = found.all(axis=1)
    out = {"frames": n, "complete": float(valid.mean()),
           **dict(zip(("body", "face", "left_hand", "right_hand"), found.mean(axis=0).tolist(), strict=True))}
    out["wrist_std_right"], out["wrist_std_left"] = wrist_std(pose, found[:, 0])
    out["mouth_r"] = mouth_correlation(pose, found[:, 1], env)
    phrase, template, weight = frame_labels(labels_csv, n, fps)
    out["template_nn"], out["template_chance"], out["template_windows"] = template_nn(
        pose, valid, phrase, template, weight, fps, window_s, stride=max(1, int(fps * window_s) // 5))
    return out


def measure(video, fps=15, window_s=1.0):
    """The QC figures of one sample video, detected here with MediaPipe at ``fps`` (module doc; ``window_s``: the
    template windows' length) as a dict, plus the detections under 'pose' [T, 3, 137] and 'found' [T, 4]."""
    pose, found = detect(video, fps)
    out = figures(pose, found, envelope(video, len(pose), fps), labels_path(video), fps, window_s)
    out["pose"], out["found"] = pose, found
    return out


GOALS = {"complete": 0.95, "wrist_std_right": 0.3, "wrist_std_left": 0.3, "mouth_r": 0.5}  # issue: QC of the sample


def read_frame(video, index):
    """Frame ``index`` of ``video`` as RGB uint8 (decoded in order: exact for any codec)."""
    cap = cv2.VideoCapture(str(video))
    try:
        for _ in range(index + 1):
            ok, image = cap.read()
            if not ok:
                raise InputError(video, f"has no frame {index}")
    finally:
        cap.release()
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def draw_skeleton(image, pose):
    """The detected 137 points' skeleton (pose [3, 137]) drawn onto a copy of ``image``."""
    out = image.copy()
    for edges, colour in ((layout.BODY_EDGES, (40, 200, 40)), (layout.FACE_EDGES, (230, 230, 230)),
                          (layout.LHAND_EDGES, (60, 120, 255)), (layout.RHAND_EDGES, (255, 140, 30))):
        for a, b in edges:
            if pose[2, a] > 0 and pose[2, b] > 0:
                cv2.line(out, tuple(int(v) for v in pose[:2, a]), tuple(int(v) for v in pose[:2, b]), colour, 2,
                         cv2.LINE_AA)
    return out


def template_frames(labels_csv, n_frames, fps=15):
    """{template: frame index} - the middle of each template's first phrase once its transition is done."""
    phrase, template, weight = frame_labels(labels_csv, n_frames, fps)
    frames = {}
    for name in dict.fromkeys(template):
        first = phrase[np.flatnonzero(template == name)[0]]
        held = np.flatnonzero((phrase == first) & (weight >= 1))
        if len(held):
            frames[name] = int(held[len(held) // 2])
    return frames


def sample_qc(keypoints, videos, labels, table_out, figure_out, fps=15):
    """Rule sample_qc: the QC figures of each sample video from the workflow's own detections (keypoints of
    detect_keypoints on the ``fps`` videos of change_fps; ``labels``: the template csv of each video) -> one row per
    video in ``table_out`` (csv), and ``figure_out`` (png): one frame per template of the first video with its
    detected skeleton, titled with the figures against their goals.  Returns the table."""
    rows = []
    for kp, video, lab in zip(keypoints, videos, labels, strict=True):
        arrays = load_pose_file(kp, ("pose", "found"))
        pose, found = arrays["pose"], arrays["found"].astype(bool)
        rows.append({"video": Path(kp).stem, **figures(pose, found, envelope(video, len(pose), fps), lab, fps)})
        log.info("%s: %s", rows[-1]["video"], ", ".join(f"{k} {v:.3g}" for k, v in rows[-1].items()
                                                     if isinstance(v, float)))
    table = pd.DataFrame(rows)
    write_csv(table_out, table)
    missed = [f"{k} {table[k].min():.2f} < {goal}" for k, goal in GOALS.items() if table[k].min() < goal]
    if missed:
        log.warning("the sample misses its QC goals: %s", "; ".join(missed))
    pose = load_pose_file(keypoints[0], ("pose",))["pose"]
    shots = template_frames(labels[0], len(pose), fps)
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), squeeze=False)
    for ax, (name, index) in zip(axes.flat, shots.items(), strict=False):
        ax.imshow(draw_skeleton(read_frame(videos[0], index), pose[index]))
        ax.set_title(f"{name} ({index / fps:.1f} s)", fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    worst = table[list(GOALS) + ["template_nn", "template_chance"]].min()
    fig.suptitle(f"{Path(videos[0]).stem}: one frame per gesture template, MediaPipe's detections.  Over "
                 f"{len(table)} videos: complete person {100 * worst['complete']:.1f} % of frames (goal 95 %), "
                 f"wrist std {min(worst['wrist_std_right'], worst['wrist_std_left']):.2f} shoulder widths (0.3), "
                 f"mouth-speech r {worst['mouth_r']:.2f} (0.5), template nearest neighbour "
                 f"{100 * worst['template_nn']:.0f} % (chance {100 * table['template_chance'].max():.0f} %)",
                 fontsize=9, wrap=True)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    save_figure(fig, figure_out)
    return table
