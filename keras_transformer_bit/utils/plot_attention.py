"""A heatmap per attention head: source tokens across, target tokens down."""

import math

import numpy as np


def plot_attention(attention, source_tokens, target_tokens, path, title=None):
    """Draws attention probabilities as one heatmap per head and saves it.

    Reads like the TensorFlow text tutorial's plot: each panel is one head,
    columns are source tokens, rows are the target tokens (row `i` is the
    attention of the step that produced target token `i`). Needs matplotlib,
    the `plot` extra (`pip install "keras_transformer_bit[plot]"`).

    Args:
        attention: array `(num_heads, target_length, source_length)`, e.g.
            `Translator.translate_with_attention(...)["attention"]`.
        source_tokens: list of `source_length` strings.
        target_tokens: list of `target_length` strings.
        path: str. Where to write the figure; the extension picks the format
            (`.png`, `.pdf`, `.svg`).
        title: optional str above the panels, e.g. the source sentence.

    Returns:
        `path`.

    Example:
    >>> import numpy as np, tempfile, os
    >>> from keras_transformer_bit.utils import plot_attention
    >>> weights = np.full((2, 3, 4), 0.25)
    >>> out = os.path.join(tempfile.mkdtemp(), "attention.png")
    >>> plot_attention(weights, list("abcd"), list("xyz"), out) == out
    True
    """
    attention = np.asarray(attention, dtype="float32")
    if attention.ndim != 3:
        raise ValueError(
            "attention must have shape (num_heads, target_length, "
            f"source_length). Received: attention with shape {attention.shape}"
        )
    _, target_length, source_length = attention.shape
    if len(source_tokens) != source_length or len(target_tokens) != target_length:
        raise ValueError(
            f"attention with shape {attention.shape} needs {source_length} "
            f"source tokens and {target_length} target tokens. Received: "
            f"{len(source_tokens)} source tokens and {len(target_tokens)} "
            "target tokens"
        )
    if not np.all(np.isfinite(attention)):
        raise ValueError("attention must be finite. Received: NaN or inf values")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError as error:
        raise ImportError(
            'plot_attention needs matplotlib: pip install "keras_transformer_bit[plot]"'
        ) from error

    num_heads = attention.shape[0]
    columns = min(num_heads, 4)
    rows = math.ceil(num_heads / columns)
    cell = 0.38
    figure, axes = pyplot.subplots(
        rows,
        columns,
        figsize=(
            columns * max(2.5, cell * source_length + 1.2),
            rows * max(2.5, cell * target_length + 1.2),
        ),
        squeeze=False,
    )
    for head, axis in enumerate(axes.flat):
        if head >= num_heads:
            axis.axis("off")
            continue
        # One colour scale for all heads, from 0 to the largest weight.
        axis.imshow(
            attention[head], cmap="viridis", vmin=0.0, vmax=float(attention.max())
        )
        axis.set_xticks(range(source_length))
        axis.set_xticklabels(source_tokens, rotation=90)
        axis.set_yticks(range(target_length))
        axis.set_yticklabels(target_tokens)
        axis.set_title(f"head {head + 1}")
        axis.set_xlabel("source")
        if head % columns == 0:
            axis.set_ylabel("target")
    if title:
        lines = [
            line if len(line) <= 100 else line[:97] + "..."
            for line in str(title).splitlines()
        ]
        figure.suptitle("\n".join(lines))
        figure.tight_layout(rect=(0, 0, 1, 1 - 0.03 * len(lines)))
    else:
        figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
