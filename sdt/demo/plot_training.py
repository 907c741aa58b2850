"""Rule plot_training: every model's training and validation curves per epoch, from their history.csv files."""

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from sdt.render import pyplot, save_figure

NOT_CURVES = {"epoch", "step", "lr", "seconds"}


def curve_groups(columns):
    """History columns -> {"training": losses, "validation": val_* metrics, "FTD": val_FTD*} (timings left out)."""
    curves = [c for c in columns if c not in NOT_CURVES and not c.endswith("seconds")]
    return {"training": [c for c in curves if not c.startswith("val_")],
            "validation": [c for c in curves if c.startswith("val_") and not c.startswith("val_FTD")],
            "FTD": [c for c in curves if c.startswith("val_FTD")]}


def _panel(ax, h, cols, title):
    if not cols:  # e.g. the pose VAE's FTD: it is FTD's encoder, its validation computes none
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"{title}: none recorded", ha="center", va="center", fontsize=9, color="0.4")
        return
    for c in cols:
        ax.plot(h["epoch"], h[c], marker="o", ms=3, label=c)
    values = h[cols].to_numpy(float) if cols else np.array([])
    finite = values[np.isfinite(values)]
    if finite.size and (finite > 0).all() and finite.max() > 20 * finite.min():
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if cols:
        ax.legend(fontsize=8)


def plot_training(histories, out_png):
    """Training curves: one row per method (``histories`` {method: history.csv path}): training losses, the
    validation metrics (val_*) and, when validation computed it, FTD per epoch; a log scale for values > 0 over a
    wide range."""
    plt = pyplot()
    frames = {m: pd.read_csv(p) for m, p in histories.items()}
    groups = {m: curve_groups(h.columns) for m, h in frames.items()}
    kinds = ["training", "validation"] + (["FTD"] if any(g["FTD"] for g in groups.values()) else [])
    fig, axes = plt.subplots(len(frames), len(kinds), figsize=(5.5 * len(kinds), 2.8 * len(frames)), squeeze=False)
    for (method, h), row in zip(frames.items(), axes, strict=True):
        for kind, ax in zip(kinds, row, strict=True):
            _panel(ax, h, groups[method][kind], f"{method}: {kind}")
    fig.tight_layout()
    save_figure(fig, out_png)
