"""BiT presets as data: architecture, official weights and their metadata.

`parameter_count` is the number of weights with a 1,000-class head (the figure
the BiT paper and model cards quote); the BiT-M files themselves carry a
21,843-class ImageNet-21k head (`num_classes`). `sha256` is None where the
digest of the official file is not recorded here: the download then checks
nothing but the archive format, and `download_weights` prints the digest it
computed so that it can be pinned.
"""

import copy

WEIGHTS_BASE_URL = "https://storage.googleapis.com/bit_models/"

# Official weights expect pixels scaled from [0, 255] to [-1, 1] and were
# pre-trained at 224x224 (Kolesnikov et al. 2019, §3.1); BiTClassifier scales.
_PREPROCESSING = {"input_range": (0, 255), "scaled_to": (-1, 1), "image_size": 224}

_ARCHITECTURES = {
    # name: (depth, width_factor, parameter count with a 1,000-class head)
    "r50x1": (50, 1, 25_549_352),
    "r50x3": (50, 3, 217_319_080),
    "r101x1": (101, 1, 44_541_480),
    "r101x3": (101, 3, 387_934_888),
    "r152x2": (152, 2, 236_335_208),
    "r152x4": (152, 4, 936_533_224),
}

_UPSTREAMS = {
    # prefix: (file prefix, weights tag, classes of the checkpoint head, dataset)
    "bit_s": ("BiT-S", "imagenet", 1000, "ILSVRC-2012 (1.3M images, 1k classes)"),
    "bit_m": ("BiT-M", "imagenet21k", 21843, "ImageNet-21k (14M images, 21k classes)"),
}


def _official_presets():
    presets = {}
    for prefix, (file_prefix, tag, classes, dataset) in _UPSTREAMS.items():
        for arch, (depth, width_factor, count) in _ARCHITECTURES.items():
            file_name = f"{file_prefix}-{arch.upper()}.npz"
            presets[f"{prefix}_{arch}"] = {
                "description": (
                    f"{file_prefix}-{arch.upper()}: ResNet-{depth}x{width_factor} "
                    f"v2 with group norm and weight standardization, pre-trained "
                    f"on {dataset}."
                ),
                "config": {"depth": depth, "width_factor": width_factor},
                "num_classes": classes,
                "parameter_count": count,
                "weights": tag,
                "weights_file": file_name,
                "weights_url": WEIGHTS_BASE_URL + file_name,
                "sha256": None,
                "preprocessing": _PREPROCESSING,
            }
    return presets


PRESETS = {
    **_official_presets(),
    "bit_tiny": {
        "description": (
            "A small BiT (one unit per block, widths 16-128, 8 norm groups) "
            "for CPU demos and tests; no pre-trained weights."
        ),
        "config": {
            "block_depths": [1, 1, 1, 1],
            "width_factor": 1,
            "base_width": 16,
            "norm_groups": 8,
        },
        "num_classes": 10,
        "parameter_count": 509_594,  # with the 10-class head
        "weights": None,
        "weights_file": None,
        "weights_url": None,
        "sha256": None,
        "preprocessing": _PREPROCESSING,
    },
}


def get_preset(name):
    """Returns a copy of the preset `name`, with a clear error for unknown names."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown BiT preset. Expected one of {sorted(PRESETS)}. "
            f"Received: name={name!r}"
        )
    return copy.deepcopy(PRESETS[name])


def preset_config(name):
    """The `BiTBackbone` constructor arguments of the preset `name`."""
    return get_preset(name)["config"]
