"""Official BiT `.npz` checkpoints: read, load into a model, write, download.

The official files (github.com/google-research/big_transfer) hold one array per
weight under `resnet/`, TensorFlow (HWIO) kernel layout:

```
resnet/root_block/standardized_conv2d/kernel            (7, 7, 3, 64w)
resnet/block{b}/unit{u:02d}/a/group_norm/{gamma,beta}   pre-activation norm
resnet/block{b}/unit{u:02d}/a/standardized_conv2d/kernel        1x1 reduce
resnet/block{b}/unit01/a/proj/standardized_conv2d/kernel        1x1 shortcut
resnet/block{b}/unit{u:02d}/{b,c}/group_norm/{gamma,beta}
resnet/block{b}/unit{u:02d}/b/standardized_conv2d/kernel        3x3
resnet/block{b}/unit{u:02d}/c/standardized_conv2d/kernel        1x1 expand
resnet/group_norm/{gamma,beta}                           final norm
resnet/head/conv2d/{kernel,bias}                         (1, 1, C, N), (N,)
```
"""

import hashlib
import os
import urllib.parse
import urllib.request
import zipfile

import keras
import numpy as np
from keras import ops

from keras_transformer_bit.layers.bit_bottleneck_unit import (
    conv_layer_type,
    norm_layer_type,
)
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
from keras_transformer_bit.models.bit import bit_presets
from keras_transformer_bit.models.bit.backbone_of import backbone_of, head_of

HEAD_KERNEL = "resnet/head/conv2d/kernel"
HEAD_BIAS = "resnet/head/conv2d/bias"
HEAD_MODES = ("keep", "replace", "drop")


def checkpoint_layers(model):
    """Maps each official key prefix to the layer holding its weights.

    Args:
        model: a `BiTBackbone` or `BiTClassifier` (group norm).

    Returns:
        dict: prefix (e.g. `"resnet/block1/unit01/a/standardized_conv2d"`) ->
        layer; `"resnet/head/conv2d"` is there for a classifier.
    """
    backbone, head = backbone_of(model), head_of(model)
    if not issubclass(
        norm_layer_type(backbone.norm_layer), keras.layers.GroupNormalization
    ):
        raise ValueError(
            "The official BiT format holds group-norm models only. "
            f"Received a model with norm_layer={backbone.norm_layer!r}"
        )
    conv = "standardized_conv2d"
    layers = {f"resnet/root_block/{conv}": backbone.get_layer("root_conv")}
    for block, units in enumerate(backbone.units_per_block, start=1):
        for unit_index in range(1, units + 1):
            unit = backbone.get_layer(f"block{block}_unit{unit_index:02d}")
            prefix = f"resnet/block{block}/unit{unit_index:02d}"
            layers[f"{prefix}/a/group_norm"] = unit.preactivation_norm
            layers[f"{prefix}/a/{conv}"] = unit.reduce_conv
            if unit.use_projection:
                layers[f"{prefix}/a/proj/{conv}"] = unit.projection_conv
            layers[f"{prefix}/b/group_norm"] = unit.spatial_norm
            layers[f"{prefix}/b/{conv}"] = unit.spatial_conv
            layers[f"{prefix}/c/group_norm"] = unit.expand_norm
            layers[f"{prefix}/c/{conv}"] = unit.expand_conv
    layers["resnet/group_norm"] = backbone.get_layer("post_norm")
    if head is not None:
        layers["resnet/head/conv2d"] = head
    return layers


def _weights_of(prefix, layer):
    """(key, variable) pairs of one layer in the official naming."""
    if prefix.endswith("group_norm"):
        return [(f"{prefix}/gamma", layer.gamma), (f"{prefix}/beta", layer.beta)]
    if prefix.endswith("head/conv2d"):
        return [(f"{prefix}/kernel", layer.kernel), (f"{prefix}/bias", layer.bias)]
    return [(f"{prefix}/kernel", layer.kernel)]


def _official_shape(key, variable):
    # The official head is a 1x1 convolution: (1, 1, C, N) for our (C, N).
    shape = tuple(variable.shape)
    return (1, 1) + shape if key == HEAD_KERNEL else shape


def checkpoint_arrays(model):
    """The model's weights as official `{key: numpy array}` (head as 1x1 conv)."""
    arrays = {}
    for prefix, layer in checkpoint_layers(model).items():
        for key, variable in _weights_of(prefix, layer):
            value = ops.convert_to_numpy(variable).astype("float32")
            arrays[key] = value.reshape(_official_shape(key, variable))
    return arrays


def _with_npz_suffix(path):
    """`path`, or `path + ".npz"` when only that exists.

    `np.savez` (so `save_bit_checkpoint`) appends `.npz` to a name without
    it: the name a checkpoint was saved under must load it back.
    """
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        return path + ".npz"
    return path


def read_bit_checkpoint(path):
    """Reads every array of an official-format `.npz` file.

    `path` may leave out the `.npz` that `save_bit_checkpoint` appended.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not a complete `.npz` archive.
    """
    path = _with_npz_suffix(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"No BiT checkpoint at path={path!r}")
    with open(path, "rb") as file:
        head = file.read(4)
    # Every .npz is a zip archive; a single .npy array is named below.
    if not head.startswith((b"PK", b"\x93NUM")):
        raise ValueError(
            f"{path!r} is not an .npz checkpoint: an .npz file is a zip archive "
            f"(it starts with b'PK'), this one starts with {head!r}. Pass the "
            "official BiT-*.npz file or one written by save_bit_checkpoint."
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path!r} is not a readable BiT checkpoint: expected a complete .npz "
            f"archive (is the file truncated or of another format?). Reading it "
            f"failed with: {error}"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path!r} is not a BiT checkpoint: expected a .npz archive of arrays, "
            f"found a single array of shape {archive.shape}"
        )
    with archive:
        try:
            return {key: np.asarray(archive[key]) for key in archive.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"{path!r} is a damaged .npz archive (truncated?): {error}"
            ) from None


def checkpoint_num_classes(arrays):
    """The class count of a checkpoint's head, or None when it has none."""
    kernel = arrays.get(HEAD_KERNEL)
    return None if kernel is None else int(kernel.shape[-1])


def checkpoint_architecture(arrays):
    """Describes the network a checkpoint holds, e.g. for error messages."""
    units = []
    while any(key.startswith(f"resnet/block{len(units) + 1}/") for key in arrays):
        prefix = f"resnet/block{len(units) + 1}/unit"
        units.append(
            len({key[: len(prefix) + 2] for key in arrays if key.startswith(prefix)})
        )
    root = arrays.get("resnet/root_block/standardized_conv2d/kernel")
    width = "unknown" if root is None else root.shape[-1]
    return f"units per block {tuple(units)}, root width {width}"


def _describe(shape_by_key, keys, limit=20):
    lines = [f"  {key}: {shape_by_key[key]}" for key in keys[:limit]]
    if len(keys) > limit:
        lines.append(f"  ... and {len(keys) - limit} more")
    return "\n".join(lines)


def load_bit_checkpoint(model, path_or_arrays, head="keep"):
    """Loads an official BiT checkpoint into a model, checking every key and shape.

    Every array of the file must find its weight and every weight its array,
    with equal shapes; otherwise nothing is assigned and the error lists the
    missing keys, the unexpected keys and the mismatched shapes.

    Args:
        model: a `BiTBackbone` or a `BiTClassifier` with group norm.
        path_or_arrays: path to the `.npz` file, or a dict of its arrays.
        head: str. `"keep"`: load the head (class counts must agree).
            `"replace"`: leave the model's head at zero (the file's head is
            skipped). `"drop"`: skip the file's head (a backbone always does).

    Returns:
        The model.
    """
    if head not in HEAD_MODES:
        raise ValueError(f"head must be one of {HEAD_MODES}. Received: head={head!r}")
    arrays = (
        path_or_arrays
        if isinstance(path_or_arrays, dict)
        else read_bit_checkpoint(path_or_arrays)
    )
    backbone, head_layer = backbone_of(model), head_of(model)
    if not issubclass(conv_layer_type(backbone.conv_layer), StandardizedConv2D):
        raise ValueError(
            "Official BiT kernels are not standardized; load them into a model "
            "with conv_layer='standardized_conv2d' (and fold it afterwards). "
            f"Received a model with conv_layer={backbone.conv_layer!r}"
        )
    variables = {
        key: variable
        for prefix, layer in checkpoint_layers(model).items()
        for key, variable in _weights_of(prefix, layer)
    }
    skip_head = head_layer is None or head != "keep"
    if skip_head:
        for key in (HEAD_KERNEL, HEAD_BIAS):
            variables.pop(key, None)
        arrays = {k: v for k, v in arrays.items() if k not in (HEAD_KERNEL, HEAD_BIAS)}
    expected = {key: _official_shape(key, v) for key, v in variables.items()}
    found = {key: tuple(value.shape) for key, value in arrays.items()}
    # Listed in network order (root first), the order a reader checks them in.
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    mismatched = [
        key for key in expected if key in found and found[key] != expected[key]
    ]
    if missing or unexpected or mismatched:
        message = _mismatch_message(expected, found, missing, unexpected, mismatched)
        raise ValueError(
            f"{message}\nThe checkpoint holds {checkpoint_architecture(arrays)}; "
            f"the model is units per block {tuple(backbone.units_per_block)}, root "
            f"width {backbone.base_width * backbone.width_factor}."
        )
    for key, variable in variables.items():
        variable.assign(arrays[key].reshape(tuple(variable.shape)).astype("float32"))
    if head_layer is not None and head == "replace":
        head_layer.kernel.assign(ops.zeros(head_layer.kernel.shape))
        head_layer.bias.assign(ops.zeros(head_layer.bias.shape))
    return model


def _mismatch_message(expected, found, missing, unexpected, mismatched, limit=20):
    parts = ["The checkpoint does not fit the model (another depth or width?)."]
    if missing:
        parts.append(f"Missing keys ({len(missing)}):\n" + _describe(expected, missing))
    if unexpected:
        parts.append(
            f"Unexpected keys ({len(unexpected)}):\n" + _describe(found, unexpected)
        )
    if mismatched:
        lines = [
            f"  {key}: checkpoint {found[key]}, model {expected[key]}"
            for key in mismatched[:limit]
        ]
        if len(mismatched) > limit:
            lines.append(f"  ... and {len(mismatched) - limit} more")
        parts.append(f"Mismatched shapes ({len(mismatched)}):\n" + "\n".join(lines))
    if not missing and not unexpected and set(mismatched) <= {HEAD_KERNEL, HEAD_BIAS}:
        parts[0] = "The checkpoint's head has another class count than the model."
        parts.append("For another class count, load with head='replace'.")
    return "\n".join(parts)


def save_bit_checkpoint(model, path):
    """Writes the model's weights in the official `.npz` format (a round trip).

    A backbone is written without `resnet/head/...`. A folded model writes its
    standardized kernels, which standardize to themselves when reloaded.

    Args:
        model: a `BiTBackbone` or a `BiTClassifier` with group norm.
        path: str. Target file (`.npz` is appended by NumPy when missing;
            the loaders accept the name without it too).

    Returns:
        str. The path written, `.npz` included.
    """
    path = os.fspath(path)
    np.savez(path, **checkpoint_arrays(model))
    return path if path.endswith(".npz") else path + ".npz"


def file_sha256(path, chunk_size=1 << 20):
    """The hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir():
    """`$KTB_CACHE_DIR`, else `~/.cache/keras_transformer_bit/bit`."""
    return os.environ.get("KTB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_transformer_bit", "bit"
    )


def download_weights(url, file_name=None, cache_dir=None, sha256=None, progress=True):
    """Downloads a file into the cache once, checking its SHA-256.

    Files are cached by content when `sha256` is given, else by URL
    (`cache_dir/sha256-.../<file_name>` or `cache_dir/url-.../<file_name>`). A
    cached file whose digest matches (or any cached file when `sha256` is
    None) is returned without a download; a mismatching one is fetched again.
    The download goes to a `.part` file that is renamed only once complete and
    verified, so an interrupted download never poses as a checkpoint.

    Args:
        url: str. `https://...`, or `file://...` for a local mirror.
        file_name: str. Name in the cache. Defaults to the URL's last part.
        cache_dir: str. Defaults to `default_cache_dir()`.
        sha256: str or None. Expected hex digest.
        progress: bool. Show a progress bar.

    Returns:
        The path of the cached file.
    """
    cache_dir = cache_dir or default_cache_dir()
    file_name = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    if not file_name:
        raise ValueError(f"Cannot tell a file name from url={url!r}; pass file_name")
    # One folder per content (when the digest is known) or per URL: two URLs
    # whose files share a name (two runs' model.npz, say) must not share an
    # entry.
    if sha256 is not None:
        key = "sha256-" + sha256.lower()[:16]
    else:
        key = "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    path = os.path.join(cache_dir, key, file_name)
    if os.path.exists(path):
        if sha256 is None or file_sha256(path) == sha256.lower():
            return path
        os.remove(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".part"
    # A local mirror (file://) copies at disk speed: no progress bar.
    progress = progress and not url.startswith("file:")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as handle:
            total = response.headers.get("Content-Length")
            bar = (
                keras.utils.Progbar(int(total) if total else None) if progress else None
            )
            done = 0
            for chunk in iter(lambda: response.read(1 << 20), b""):
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if bar is not None:
                    bar.update(done)
    except OSError as error:  # urllib's URLError and HTTPError included
        _discard(partial)
        raise OSError(
            f"Downloading {file_name} from {url} failed: {error}. Without "
            f"network access, fetch {url} elsewhere and pass the local file "
            f"instead: weights='/path/to/{file_name}' (or copy it to {path})."
        ) from error
    actual = digest.hexdigest()
    if sha256 is not None and actual != sha256.lower():
        _discard(partial)
        raise ValueError(
            f"Checksum mismatch for {url}: expected sha256={sha256}, got {actual}. "
            "The download is corrupted or the file changed upstream."
        )
    os.replace(partial, path)
    if sha256 is None and progress:
        print(f"Downloaded {file_name} (sha256={actual}) to {path}")
    return path


def _discard(partial):
    """Removes a failed download and its cache folder when that is empty."""
    if os.path.exists(partial):
        os.remove(partial)
    folder = os.path.dirname(partial)
    if os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


def resolve_weights(preset, weights, cache_dir=None):
    """Turns a `weights` argument of `from_preset` into a local file path.

    Args:
        preset: dict. The preset the weights are for, as
            `bit_presets.get_preset` returns it (a preset name is looked up).
        weights: an existing path (`.npz` may be left out, as
            `save_bit_checkpoint` allows); a URL (`https://`, `file://`); the preset's
            weights tag (e.g. `"imagenet21k"`); or its official file name
            (used when such a file exists, else downloaded).
        cache_dir: str. Download cache. Defaults to `default_cache_dir()`.

    Returns:
        str. Path to a `.npz` file.
    """
    if isinstance(preset, str):
        preset = bit_presets.get_preset(preset)
    weights = os.fspath(weights)
    if os.path.exists(_with_npz_suffix(weights)):
        return _with_npz_suffix(weights)
    if "://" in weights:
        return download_weights(weights, cache_dir=cache_dir)
    if preset["weights_url"] and weights in (preset["weights"], preset["weights_file"]):
        return download_weights(
            preset["weights_url"],
            file_name=preset["weights_file"],
            cache_dir=cache_dir,
            sha256=preset["sha256"],
        )
    options = [preset["weights"], preset["weights_file"]] if preset["weights"] else []
    raise ValueError(
        f"Unknown weights for preset {preset['name']!r}: no file at {weights!r}, "
        f"and it is not one of the preset's weights {options}. "
        f"Received: weights={weights!r}"
    )
