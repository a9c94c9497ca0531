import numpy as np
import pytest

from keras_transformer_bit.utils import plot_attention


def test_writes_a_png_with_a_panel_per_head(tmp_path):
    from matplotlib import image

    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=(6, 3))
    path = plot_attention(
        weights, list("abcde"), ["x", "y", "[END]"], str(tmp_path / "a.png"), "t"
    )
    pixels = image.imread(path)
    # Six heads in a 4-column grid: two rows of panels, wider than tall.
    assert pixels.ndim == 3 and pixels.shape[1] > pixels.shape[0] > 100


@pytest.mark.parametrize(
    "weights, source, target, message",
    [
        (np.ones((3, 4)), list("abcd"), list("xyz"), r"shape \(3, 4\)"),
        (np.ones((1, 3, 4)), list("abc"), list("xyz"), "3 source tokens"),
        (np.full((1, 3, 4), np.nan), list("abcd"), list("xyz"), "finite"),
    ],
)
def test_bad_input_is_refused(tmp_path, weights, source, target, message):
    with pytest.raises(ValueError, match=message):
        plot_attention(weights, source, target, str(tmp_path / "a.png"))
