"""An independent NumPy forward pass of BiT, written from the official semantics.

It reads an official-format checkpoint dict (keys under `resnet/`) and shares no
code with the Keras implementation. The `padding` switch reproduces the two
mistakes the tests must catch: `"same"` padding for the strided layers and
`-inf` padding for the root max-pool.
"""

import numpy as np


def official_keys(block_depths, width_factor, base_width=64, num_classes=None):
    """{key: shape} of an official checkpoint for this architecture."""
    root = base_width * width_factor
    shapes = {"resnet/root_block/standardized_conv2d/kernel": (7, 7, 3, root)}
    channels = root
    for b, units in enumerate(block_depths):
        width = root * 2**b
        for u in range(1, units + 1):
            p = f"resnet/block{b + 1}/unit{u:02d}"
            shapes[f"{p}/a/group_norm/gamma"] = (channels,)
            shapes[f"{p}/a/group_norm/beta"] = (channels,)
            shapes[f"{p}/a/standardized_conv2d/kernel"] = (1, 1, channels, width)
            if u == 1:
                shapes[f"{p}/a/proj/standardized_conv2d/kernel"] = (
                    1,
                    1,
                    channels,
                    4 * width,
                )
            shapes[f"{p}/b/group_norm/gamma"] = (width,)
            shapes[f"{p}/b/group_norm/beta"] = (width,)
            shapes[f"{p}/b/standardized_conv2d/kernel"] = (3, 3, width, width)
            shapes[f"{p}/c/group_norm/gamma"] = (width,)
            shapes[f"{p}/c/group_norm/beta"] = (width,)
            shapes[f"{p}/c/standardized_conv2d/kernel"] = (1, 1, width, 4 * width)
            channels = 4 * width
    shapes["resnet/group_norm/gamma"] = (channels,)
    shapes["resnet/group_norm/beta"] = (channels,)
    if num_classes is not None:
        shapes["resnet/head/conv2d/kernel"] = (1, 1, channels, num_classes)
        shapes["resnet/head/conv2d/bias"] = (num_classes,)
    return shapes


def random_checkpoint(block_depths, width_factor, base_width, num_classes, seed=0):
    """A random official-format checkpoint (float32 arrays)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for key, shape in official_keys(
        block_depths, width_factor, base_width, num_classes
    ).items():
        if key.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("beta") or key.endswith("bias"):
            value = rng.normal(0.0, 0.3, shape)
        elif key.startswith("resnet/head"):
            value = rng.normal(0.0, 1.0 / np.sqrt(shape[2]), shape)
        else:
            # Unstandardized, with a per-channel offset and scale, as trained
            # kernels are: the standardization has work to do.
            value = rng.normal(0.3, 2.0, shape) * rng.uniform(0.1, 3.0, shape[-1])
        arrays[key] = value.astype("float32")
    return arrays


def _standardize(w, eps=1e-10):
    w = w.astype("float64")
    mean = w.mean(axis=(0, 1, 2), keepdims=True)
    var = ((w - mean) ** 2).mean(axis=(0, 1, 2), keepdims=True)
    return (w - mean) / np.sqrt(var + eps)


def _pads(size, kernel, stride, padding, explicit):
    if padding == "same" and stride > 1:
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    return explicit, explicit


def _conv(x, w, stride, pad, padding, pad_value=0.0):
    ph = _pads(x.shape[1], w.shape[0], stride, padding, pad)
    pw = _pads(x.shape[2], w.shape[1], stride, padding, pad)
    x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=pad_value)
    kh, kw = w.shape[:2]
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            window = x[:, i : i + stride * (oh - 1) + 1 : stride]
            window = window[:, :, j : j + stride * (ow - 1) + 1 : stride]
            out += np.einsum("bhwc,co->bhwo", window, w[i, j])
    return out


def _max_pool(x, padding, pool_pad_value):
    ph = _pads(x.shape[1], 3, 2, padding, 1)
    pw = _pads(x.shape[2], 3, 2, padding, 1)
    x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=pool_pad_value)
    oh = (x.shape[1] - 3) // 2 + 1
    ow = (x.shape[2] - 3) // 2 + 1
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
    for i in range(3):
        for j in range(3):
            window = x[:, i : i + 2 * (oh - 1) + 1 : 2, j : j + 2 * (ow - 1) + 1 : 2]
            out = np.maximum(out, window)
    return out


def _group_norm_relu(x, gamma, beta, groups, eps=1e-5):
    b, h, w, c = x.shape
    g = x.reshape(b, h, w, groups, c // groups)
    mean = g.mean(axis=(1, 2, 4), keepdims=True)
    var = g.var(axis=(1, 2, 4), keepdims=True)
    g = (g - mean) / np.sqrt(var + eps)
    return np.maximum(g.reshape(b, h, w, c) * gamma + beta, 0.0)


def forward(arrays, images, groups, padding="official", pool_pad_value=0.0):
    """Logits of the official BiT for `images` in [0, 255] (float64 NumPy).

    Args:
        arrays: official-format checkpoint dict, with a head.
        images: (batch, height, width, 3) pixel values in [0, 255].
        groups: group-norm groups.
        padding: `"official"` (explicit symmetric zero padding, `valid`) or
            `"same"` (TF `same` for the strided layers: a wrong variant).
        pool_pad_value: value padded around the root max-pool; the official
            code pads zeros.
    """
    a = {k: v.astype("float64") for k, v in arrays.items()}
    x = images.astype("float64") / 127.5 - 1.0
    x = _conv(
        x,
        _standardize(a["resnet/root_block/standardized_conv2d/kernel"]),
        2,
        3,
        padding,
    )
    x = _max_pool(x, padding, pool_pad_value)
    block = 1
    while f"resnet/block{block}/unit01/a/group_norm/gamma" in a:
        unit = 1
        while f"resnet/block{block}/unit{unit:02d}/a/group_norm/gamma" in a:
            p = f"resnet/block{block}/unit{unit:02d}"
            stride = 2 if block > 1 and unit == 1 else 1
            out = _group_norm_relu(
                x, a[f"{p}/a/group_norm/gamma"], a[f"{p}/a/group_norm/beta"], groups
            )
            proj = f"{p}/a/proj/standardized_conv2d/kernel"
            shortcut = (
                _conv(out, _standardize(a[proj]), stride, 0, "official")
                if proj in a
                else x
            )
            out = _conv(
                out, _standardize(a[f"{p}/a/standardized_conv2d/kernel"]), 1, 0, padding
            )
            out = _group_norm_relu(
                out, a[f"{p}/b/group_norm/gamma"], a[f"{p}/b/group_norm/beta"], groups
            )
            out = _conv(
                out,
                _standardize(a[f"{p}/b/standardized_conv2d/kernel"]),
                stride,
                1,
                padding,
            )
            out = _group_norm_relu(
                out, a[f"{p}/c/group_norm/gamma"], a[f"{p}/c/group_norm/beta"], groups
            )
            out = _conv(
                out, _standardize(a[f"{p}/c/standardized_conv2d/kernel"]), 1, 0, padding
            )
            x = out + shortcut
            unit += 1
        block += 1
    x = _group_norm_relu(
        x, a["resnet/group_norm/gamma"], a["resnet/group_norm/beta"], groups
    )
    features = x.mean(axis=(1, 2))
    kernel = a["resnet/head/conv2d/kernel"][0, 0]
    return features @ kernel + a["resnet/head/conv2d/bias"]
