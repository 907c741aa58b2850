"""Rule plot_templates: 2-D PCA projections of the learned template tables (SDT-BP's trained table, SDT-VAE's VAE
clip means), coloured by the source video of each training clip."""

from pathlib import Path

import numpy as np

from sdt.inference import check_templates, table_rows, template_table
from sdt.render import pyplot, save_figure


def pca_2d(x):
    """Rows of ``x`` [N, D] projected on their first two principal axes -> ([N, 2], explained variance ratio
    [2]).  Fewer than two axes (N < 3 or a constant table) are padded with zeros."""
    x = np.asarray(x, np.float64)
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    proj = np.zeros((len(x), 2))
    k = min(2, vt.shape[0])
    proj[:, :k] = xc @ vt[:k].T
    var = s**2
    ratio = np.zeros(2)
    ratio[:k] = var[:k] / var.sum() if var.sum() > 0 else 0
    return proj, ratio


def neighbour_ratio(table, groups=None, seed=0):
    """How much clip structure a template table [N, D] (or [N, D, T]) carries: the mean distance between the rows
    of consecutive training clips (of the same video when ``groups`` [N] is given; with the default clip stride
    they share 59 of 64 frames) over the mean distance between rows paired at random.  ~1: the rows are unrelated to
    the clips' content (e.g. pushed apart at random); the sample's pose VAE means: ~0.44 (docs/training.md §11)."""
    x = np.asarray(table, np.float64).reshape(len(table), -1)
    pairs = np.ones(len(x) - 1, bool)
    if groups is not None:
        g = np.asarray(groups)
        pairs = g[1:] == g[:-1]
    if len(x) < 3 or not pairs.any():
        return float("nan")
    near = np.linalg.norm(x[1:] - x[:-1], axis=1)[pairs].mean()
    perm = np.random.default_rng(seed).permutation(len(x))
    far = np.linalg.norm(x - x[perm], axis=1)[perm != np.arange(len(x))].mean()
    return float(near / far) if far > 0 else float("nan")


def plot_templates(tables, out_png, groups=None):
    """2-D PCA of each learned template table (``tables`` {name: [N, D] array}), one panel each; points are
    coloured by ``groups`` [N] labels (e.g. the source video of each training clip) when given: one array for every
    panel, or {name: array} per table.  Each title gives the table's :func:`neighbour_ratio`."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tables), figsize=(5.2 * len(tables), 4.6), squeeze=False)
    for (name, table), ax in zip(tables.items(), axes[0], strict=True):
        proj, ratio = pca_2d(table)
        labels = groups.get(name) if isinstance(groups, dict) else groups
        if labels is not None and len(labels) != len(table):
            labels = None  # not this table's rows: neither colours nor neighbours from them
        if labels is not None:
            for g in sorted(set(labels)):
                m = np.asarray(labels) == g
                ax.scatter(proj[m, 0], proj[m, 1], s=12, alpha=0.7, label=str(g))
            ax.legend(fontsize=7, markerscale=1.5)
        else:
            ax.scatter(proj[:, 0], proj[:, 1], s=12, alpha=0.7, c=np.arange(len(proj)), cmap="viridis")
        ax.set_title(f"{name}: {len(table)} templates of {np.shape(table)[1]} dims\nneighbours / random pairs "
                     f"{neighbour_ratio(table, labels):.2f}", fontsize=10)
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f} % of variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f} % of variance)")
        ax.ticklabel_format(style="sci", scilimits=(-2, 3))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out_png)


def plot_model_templates(models, out_png, index_csv=None, pose_vae=None):
    """:func:`plot_templates` of the template tables of checkpoints (``models`` {name: path}, ours or the authors';
    a release SDT-VAE's table is the release ``pose_vae``'s clip means), coloured by the source video of each
    training clip when the dataset's clips.csv is given (then a table must have one row per train row)."""
    tables, groups = {}, {}
    for name, path in models.items():
        table, release = template_table(path, pose_vae)
        if table is None:
            raise ValueError(f"{path}: the {name} model has no templates to plot")
        tables[name] = table
        if index_csv is not None:
            check_templates(table, release, index_csv, path)
            videos = table_rows(index_csv, release)["video_fn"].astype(str)
            groups[name] = videos.map(lambda v: Path(v).stem).to_numpy()
    plot_templates(tables, out_png, groups)
