"""The dataset settings and the sample speaker's: one typed config each, the one home of every setting's default and
bounds (the ``dataset:`` and ``sample:`` sections of config/config.yaml and their schema follow from them:
sdt.settings; docs/dataset.md explains each stage)."""

from dataclasses import dataclass

from sdt.constants import AUDIO_RATE, CLIP_FRAMES, FPS, OLIVER_SHOULDER_PX
from sdt.settings import setting

DETECTORS = ("mediapipe", "openpose")
RESCALE_PER = ("auto", "video", "shot")  # auto: per shot for a `videos:` speaker, per video otherwise (the release's)
AV_SYNC = ("report", "correct")  # an out-of-sync video: warned about and recorded, or its audio also shifted back


@dataclass(frozen=True)
class DatasetSettings:
    detector: str = setting("mediapipe", enum=list(DETECTORS))  # MediaPipe Holistic (bundled) or OpenPose
    redetect: bool = setting(True)  # MediaPipe: a static pass over frames where tracking lost a part
    keep_frames: bool = setting(False)  # keep the extracted JPEG frames (otherwise deleted once keypoints exist)
    # frames taller than this are scaled down to it for detection, keypoints kept in the video's pixels (0 = never):
    # measured on a 4K version of the sample, 1080 lines give keypoints within 0.2 % of a shoulder width (median) of
    # the 4K frames', the same complete-person rate to one frame in 200, 10x faster detection, 2.6x less disk
    frame_height: int = setting(1080, minimum=0)
    outlier_px: float = setting(3.0)  # a kept point at x <= 3 and y <= 3 is undetected: its frame is an outlier
    # a kept frame after a jump of the neck/shoulders by more than 0.25 shoulder widths, or a change of the shoulder
    # width by more than 0.25 in log, is a cut (a hard cut or a switch of person; 0 = no check).  The sample's
    # largest are 0.11 and 0.12 (docs/dataset.md "Cuts and switches")
    cut_jump: float = setting(0.25, minimum=0)
    cut_zoom: float = setting(0.25, exclusiveMinimum=0)
    # also a cut: the picture changed by more than 12 (mean grey difference of 32x18 thumbnails, 0-255; 0 = no
    # check); the sample's fast strokes reach 3.9, the smallest made-up framing cut 20
    cut_picture: float = setting(12.0, minimum=0)
    rescale_shoulders: bool = setting(True)  # scale x, y so that the mean shoulder width is reference_shoulder_px
    rescale_per: str = setting("auto", enum=list(RESCALE_PER))  # one shoulder factor per video or per shot
    reference_shoulder_px: float = setting(OLIVER_SHOULDER_PX, exclusiveMinimum=0)  # Oliver's: reuse his factor
    clip_stride: int = setting(5, minimum=1)  # a new clip every 5 frames
    skip_frames: int = setting(80, minimum=0)  # frames skipped at the start of every video
    last_window: bool = setting(False)  # also the window ending on a video's last frame (not the release's)
    av_sync: str = setting("report", enum=list(AV_SYNC))  # audio out of sync with the mouth: report | correct it
    train_fraction: float = setting(0.8, minimum=0, maximum=1)  # per video in time order: the first 80 % train,
    idle_clips: int = setting(13, minimum=0)  # the next 13 idle (13 x 5 >= 64: no frame shared), the rest dev
    # Fixed (sdt/constants.py): a config may repeat them but not change them (sdt.plan.config says why)
    fps: int = setting(FPS, const=FPS)
    clip_frames: int = setting(CLIP_FRAMES, const=CLIP_FRAMES)
    audio_rate: int = setting(AUDIO_RATE, const=AUDIO_RATE)


@dataclass(frozen=True)
class SampleSettings:
    """The bundled sample speaker (sdt.dataset.make_sample_video)."""

    photo: str = setting("resources/messi5.jpg")  # put there by envs/setup.sh from Debian's opencv-doc package
    videos: int = setting(3, minimum=1)  # how many videos
    seconds: float = setting(44.0, minimum=1)  # the length of each: ~100 clips per video at 15 fps
    seed: int = setting(0)  # the choice of sentences and gesture phrases; the videos are deterministic
    # a gesture phrase (one template) lasts 4-7 s, so many 64-frame clips hold one
    phrase_seconds: tuple = setting((4.0, 7.0), items={"type": "number", "exclusiveMinimum": 0}, minItems=2,
                                    maxItems=2)


DATASET = DatasetSettings()  # the defaults, for the step functions' keyword defaults
SAMPLE = SampleSettings()
