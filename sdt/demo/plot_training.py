"""Rule plot_training: every model's training and validation curves per epoch, from their history.csv files."""

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from sdt.render import pyplot, save_figure


def plot_training(histories, out_png):
    """Training curves: one row per method (``histories`` {method: history.csv path}), training losses on the
    left and the validation metrics (val_*) on the right, per epoch; a log scale for values > 0 over a wide range."""
    plt = pyplot()
    fig, axes = plt.subplots(len(histories), 2, figsize=(11, 2.8 * len(histories)), squeeze=False)
    skip = {"epoch", "step", "lr", "seconds"}
    for (method, path), (ax_t, ax_v) in zip(histories.items(), axes, strict=True):
        h = pd.read_csv(path)
        for ax, cols, what in ((ax_t, [c for c in h if c not in skip and not c.startswith("val_")], "training"),
                               (ax_v, [c for c in h if c.startswith("val_")], "validation")):
            for c in cols:
                ax.plot(h["epoch"], h[c], marker="o", ms=3, label=c)
            values = h[cols].to_numpy(float) if cols else np.array([])
            finite = values[np.isfinite(values)]
            if finite.size and (finite > 0).all() and finite.max() > 20 * finite.min():
                ax.set_yscale("log")
            ax.set_title(f"{method}: {what}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if cols:
                ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_png)
