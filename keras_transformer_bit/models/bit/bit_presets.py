"""BiT presets as data: architecture, official weights and their metadata.

`parameter_count` is the number of weights with a 1,000-class head (the figure
the BiT paper and model cards quote); the BiT-M files themselves carry a
21,843-class ImageNet-21k head (`num_classes`). `sha256` is None where the
digest of the official file is not recorded here: the download then checks
nothing but the archive format, and `download_weights` prints the digest it
computed so that it can be pinned.

Every preset is one line: `_official(...)` for a released checkpoint,
`_architecture(...)` for a network without weights.
"""

import copy

WEIGHTS_BASE_URL = "https://storage.googleapis.com/bit_models/"

# Official weights expect pixels scaled from [0, 255] to [-1, 1] and were
# pre-trained at 224x224 (Kolesnikov et al. 2019, §3.1). `BiTClassifier`
# scales its inputs so, and records `image_size` as the resolution it expects
# until it is fine-tuned at another one.
_PREPROCESSING = {"input_range": (0, 255), "scaled_to": (-1, 1), "image_size": 224}

_UPSTREAMS = {
    # letter: (weights tag, classes of the checkpoint head, dataset)
    "S": ("imagenet", 1000, "ILSVRC-2012 (1.3M images, 1k classes)"),
    "M": ("imagenet21k", 21843, "ImageNet-21k (14M images, 21k classes)"),
}


def _architecture(parameter_count, num_classes=1000, description=None, **config):
    """A preset without pre-trained weights; `config` is `BiTBackbone`'s."""
    if description is None:
        description = (
            f"BiT ResNet-{config['depth']}x{config.get('width_factor', 1)} v2 "
            "(group norm, weight standardization); no pre-trained weights."
        )
    return {
        "description": description,
        "config": config,
        "num_classes": num_classes,
        "parameter_count": parameter_count,
        "weights": None,
        "weights_file": None,
        "weights_url": None,
        "sha256": None,
        "preprocessing": dict(_PREPROCESSING),
    }


def _official(upstream, depth, width_factor, parameter_count):
    """The released BiT-`upstream`-R`depth`x`width_factor` checkpoint.

    The official file names keep the lowercase "x" (`BiT-M-R50x1.npz`), and
    object names are case-sensitive.
    """
    tag, classes, dataset = _UPSTREAMS[upstream]
    model = f"BiT-{upstream}-R{depth}x{width_factor}"
    return {
        **_architecture(parameter_count, depth=depth, width_factor=width_factor),
        "description": (
            f"{model}: ResNet-{depth}x{width_factor} v2 with group norm and "
            f"weight standardization, pre-trained on {dataset}."
        ),
        "num_classes": classes,
        "weights": tag,
        "weights_file": f"{model}.npz",
        "weights_url": f"{WEIGHTS_BASE_URL}{model}.npz",
    }


PRESETS = {
    "bit_s_r50x1": _official("S", 50, 1, 25_549_352),
    "bit_s_r50x3": _official("S", 50, 3, 217_319_080),
    "bit_s_r101x1": _official("S", 101, 1, 44_541_480),
    "bit_s_r101x3": _official("S", 101, 3, 387_934_888),
    "bit_s_r152x2": _official("S", 152, 2, 236_335_208),
    "bit_s_r152x4": _official("S", 152, 4, 936_533_224),
    "bit_m_r50x1": _official("M", 50, 1, 25_549_352),
    "bit_m_r50x3": _official("M", 50, 3, 217_319_080),
    "bit_m_r101x1": _official("M", 101, 1, 44_541_480),
    "bit_m_r101x3": _official("M", 101, 3, 387_934_888),
    "bit_m_r152x2": _official("M", 152, 2, 236_335_208),
    "bit_m_r152x4": _official("M", 152, 4, 936_533_224),
    "bit_r26x1": _architecture(15_987_496, depth=26, width_factor=1),
    "bit_tiny": _architecture(
        509_594,  # with the 10-class head
        num_classes=10,
        description=(
            "A small BiT (one unit per block, widths 16-128, 8 norm groups) "
            "for CPU demos and tests; no pre-trained weights."
        ),
        block_depths=[1, 1, 1, 1],
        width_factor=1,
        base_width=16,
        norm_groups=8,
    ),
}


def get_preset(name):
    """Returns a copy of the preset `name` (with its `"name"`), or a clear error.

    Resolve a name once, at the entry (`from_preset`), and pass the returned
    dict down.
    """
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(
            f"Unknown BiT preset. Expected one of {sorted(PRESETS)}. "
            f"Received: name={name!r}"
        )
    return {"name": name, **copy.deepcopy(PRESETS[name])}


def descriptions():
    """Each preset's name and description, for `presets()` of the BiT models."""
    return {name: preset["description"] for name, preset in PRESETS.items()}


def preset_config(name):
    """The `BiTBackbone` constructor arguments of the preset `name`."""
    return get_preset(name)["config"]
