"""Videos while training (the release's TRAIN.NUM_RESULT_SAMPLE = 2 and TEST.NUM_RESULT_SAMPLE = 8 clips per epoch,
SYS.VIDEO_FORMAT; docs/networks.md §5): the prediction beside the truth on a few training and dev clips, drawn by
sdt/render.py.

``train.video_format``: ``mp4`` (with the clip's sound) -> <run_dir>/videos/epoch_<E>/<split>_<clip>.mp4 and/or
``tensorboard`` (an animated GIF per clip, no sound, under videos/<split>_<clip>).  The clips are the same every
epoch (evenly spaced over each split), so one watches the model change; the generator runs in eval mode with
template rows drawn from the training seed (sdt.train.run.Run.predict_normalised).  Panels are small
(:data:`PANEL`) so that rendering stays cheap next to an epoch of training.
"""

import io
import logging
from pathlib import Path

import numpy as np
import torch

from sdt import render
from sdt.constants import AUDIO_RATE, FPS
from sdt.poses import final_results

log = logging.getLogger(__name__)

PANEL = (360, 320)  # (H, W) px of one panel: prediction | truth -> 360 x 640 frames
GIF_COLOURS = 64  # TensorBoard's animated GIFs: white, grey, green and the hands' ten hues, anti-aliased


def evenly(n, k):
    """``k`` evenly spaced clip indices of ``n`` (fewer when n < k)."""
    return np.unique(np.round(np.linspace(0, n - 1, min(k, n))).astype(int)).tolist() if n and k else []


def gif_summary(tag, frames, fps=FPS):
    """A TensorBoard image summary holding an animated GIF of BGR frames [H, W, 3] (what add_video writes, without
    moviepy)."""
    from PIL import Image
    from torch.utils.tensorboard.summary import Summary

    images = [Image.fromarray(np.ascontiguousarray(f[..., ::-1])) for f in frames]
    # one palette for all frames (the first one's, which draws every part): 4x faster than a palette per frame
    palette = images[0].quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    h, w = frames[0].shape[:2]
    image = Summary.Image(height=h, width=w, colorspace=3, encoded_image_string=buf.getvalue())
    return Summary(value=[Summary.Value(tag=tag, image=image)])


class EpochVideos:
    """Called after each epoch (on rank 0): renders the chosen clips of each split."""

    def __init__(self, run, sets, out_dir):
        self.sets, self.out_dir = sets, Path(out_dir)
        counts = dict(zip(("train", "dev"), run.settings.videos(), strict=True))
        self.rows = {split: evenly(len(sets[split]), counts[split]) for split in sets}

    def __len__(self):
        return sum(len(r) for r in self.rows.values())

    def __call__(self, run, epoch):
        run.train_mode(False)
        formats = run.settings.video_format
        for split, rows in self.rows.items():
            if not rows:
                continue
            batch = {k: v.to(run.device) for k, v in self.sets[split][rows].items()}
            g = torch.Generator().manual_seed(run.settings.seed)  # the same template rows every epoch
            pred = final_results(run.predict_normalised(batch, generator=g), run.stats_t, run.parted).cpu().numpy()
            true = final_results(batch["poses"], run.stats_t, run.parted).cpu().numpy()
            audio = batch["audio"].cpu().numpy()
            for k, row in enumerate(batch["index"].tolist()):
                self._write(run, epoch, f"{split}_{row:05d}", [pred[k], true[k]], audio[k], formats)

    def _write(self, run, epoch, name, sequences, audio, formats):
        titles = [f"prediction (epoch {epoch})", "truth"]
        if "mp4" in formats:
            render.render_video(self.out_dir / f"epoch_{epoch:03d}" / f"{name}.mp4", sequences, titles, audio,
                                AUDIO_RATE, FPS, panel=PANEL)
        if "tensorboard" in formats and run.writer is not None:
            grid = render.PanelLayout(2, PANEL, titles)
            run.writer._get_file_writer().add_summary(gif_summary(f"videos/{name}", list(grid.frames(sequences))),
                                                      run.step)
