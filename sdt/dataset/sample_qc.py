"""What MediaPipe sees of a sample-speaker video: does the speaker gesture, and do the gestures have structure?

:func:`measure` decodes the video at the dataset's frame rate (15 fps, as change_fps makes it), runs MediaPipe
Holistic in tracking mode on every frame (sdt.detect's detector: the same one the workflow uses) and reports:

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

import subprocess

import numpy as np
import pandas as pd

from sdt.dataset.detect_keypoints import MediaPipeDetector
from sdt.dataset.make_sample_video import FPS as VIDEO_FPS
from sdt.dataset.make_sample_video import labels_path, loudness_envelope
from sdt.layout import FACE
from sdt.media import decode_audio, ffmpeg_exe, probe

ARM_POINTS = [2, 3, 4, 5, 6, 7]  # 137-layout RShoulder, RElbow, RWrist, LShoulder, LElbow, LWrist
MOUTH = (FACE.start + 62, FACE.start + 66)  # inner lip centres, upper and lower
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
    """The speech's loudness envelope at ``fps`` (sdt.dataset.make_sample_video.loudness_envelope)."""
    return loudness_envelope(decode_audio(video, AUDIO_RATE), AUDIO_RATE, n_frames, fps=fps)


def wrist_std(pose, body):
    """Per wrist (right, left): RMS over x, y of the wrist's std over frames ``body``, in mean shoulder widths."""
    xy = pose[body, :2]  # (T, 2, 137)
    shoulder = np.linalg.norm(xy[:, :, 2] - xy[:, :, 5], axis=1).mean()
    return tuple(float(np.sqrt((xy[:, :, i].std(axis=0) ** 2).mean()) / shoulder) for i in (4, 7))


def mouth_correlation(pose, face, env):
    """Pearson r of the inner-lip distance (px, frames where the face was found) with the envelope."""
    gap = np.linalg.norm(pose[:, :2, MOUTH[0]] - pose[:, :2, MOUTH[1]], axis=1)
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


def frame_labels(video, n_frames, fps=15):
    """The template labels of ``video`` (written next to it) at ``fps``: each frame takes the label of the
    25 fps frame that ffmpeg's fps filter shows at its time."""
    labels = pd.read_csv(labels_path(video))
    src = np.minimum(np.round(np.arange(n_frames) * VIDEO_FPS / fps).astype(int), len(labels) - 1)
    rows = labels.iloc[src]
    return rows["phrase"].to_numpy(), rows["template"].to_numpy(), rows["weight"].to_numpy()


def measure(video, fps=15, window_s=1.0):
    """The QC figures of one sample video (module doc; ``window_s``: the template windows' length) as a dict,
    plus the detections under 'pose' [T, 3, 137] and 'found' [T, 4]."""
    pose, found = detect(video, fps)
    n = len(pose)
    env = envelope(video, n, fps)
    valid = found.all(axis=1)
    out = {"frames": n, "complete": float(valid.mean()),
           **dict(zip(("body", "face", "left_hand", "right_hand"), found.mean(axis=0).tolist(), strict=True))}
    out["wrist_std_right"], out["wrist_std_left"] = wrist_std(pose, found[:, 0])
    out["mouth_r"] = mouth_correlation(pose, found[:, 1], env)
    phrase, template, weight = frame_labels(video, n, fps)
    out["template_nn"], out["template_chance"], out["template_windows"] = template_nn(
        pose, valid, phrase, template, weight, fps, window_s, stride=max(1, int(fps * window_s) // 5))
    out["pose"], out["found"] = pose, found
    return out

