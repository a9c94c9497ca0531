import numbers

import keras

from keras_transformer_bit.models.bit import bit_checkpoint, bit_presets
from keras_transformer_bit.models.bit.bit_backbone import (
    BACKBONE_ARGUMENTS,
    BiTBackbone,
    backbone_from_preset,
    check_image_shape,
    default_name,
)
from keras_transformer_bit.utils import check_positive_int
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class BiTClassifier(keras.Model):
    """An image classifier on a `BiTBackbone` (Kolesnikov et al. 2019).

    Takes float RGB pixel values in `[0, 255]`, channels last, any height and
    width; scales them to `[-1, 1]` (what the official weights expect), runs
    the backbone (which ends with group norm and ReLU), averages over space
    and applies a dense head. The head starts at zero, as BiT's fine-tuning
    recipe prescribes (§3.3): every class starts at the same logit and the
    first steps do not wreck the pre-trained features. The logits are float32
    under mixed precision.

    The classifier carries what serving needs to read its outputs right:
    `class_names` (label `i` is `class_names[i]`), so that evaluation and
    export match classes by name, not by position; and `image_size`, the
    resolution it expects: the preset's pre-training resolution (or the
    `image_size` argument), replaced by the resolution it is trained at,
    which `ktb.export.export_image_classifier` serves at by default. Training
    records it: any call with `training=True` on images of a fixed size, so
    `fit` and `ktb.recipes.bit_fine_tune` alike (batches of varying sizes
    record nothing; set `classifier.image_size` then). Both are saved with
    the model.

    Args:
        backbone: a `BiTBackbone`.
        num_classes: int. Number of classes, >= 1.
        head_initializer: initializer of the head kernel. Defaults to
            `"zeros"`.
        class_names: list of `num_classes` distinct str, or None (unknown).
            Defaults to None.
        image_size: int or (height, width), or None (unknown). Defaults to
            None.
        dtype: dtype policy of the head. Defaults to the backbone's.
        **kwargs: `name`, `trainable`. Any other name is refused.

    Example:
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=5)
    >>> tuple(clf(keras.ops.zeros((2, 32, 32, 3))).shape)
    (2, 5)
    """

    def __init__(
        self,
        backbone,
        num_classes,
        head_initializer="zeros",
        class_names=None,
        image_size=None,
        dtype=None,
        **kwargs,
    ):
        check_known_arguments("BiTClassifier", kwargs, CLASSIFIER_ARGUMENTS)
        if not isinstance(backbone, BiTBackbone):
            raise ValueError(
                f"backbone must be a BiTBackbone. Received: backbone={backbone!r}"
            )
        num_classes = check_positive_int("num_classes", num_classes)
        policy = keras.dtype_policies.get(dtype or backbone.dtype_policy)
        # Logits in the variable dtype: float32 under mixed precision.
        head_policy = keras.dtype_policies.get(policy.variable_dtype)

        # === Functional graph ===
        inputs = keras.Input(shape=backbone.image_shape, name="images")
        x = keras.layers.Rescaling(
            1.0 / 127.5, offset=-1.0, name="rescaling", dtype=policy
        )(inputs)
        x = backbone(x)
        x = keras.layers.GlobalAveragePooling2D(name="pool", dtype=policy)(x)
        outputs = keras.layers.Dense(
            num_classes,
            kernel_initializer=head_initializer,
            bias_initializer="zeros",
            name="head",
            dtype=head_policy,
        )(x)
        if kwargs.get("name") is None:
            kwargs["name"] = default_name("bit_classifier")
        super().__init__(inputs=inputs, outputs=outputs, dtype=policy, **kwargs)
        self.dtype_policy = policy  # a functional model ignores `dtype`

        # === Config ===
        self.backbone = backbone
        self.num_classes = num_classes
        self.head_initializer = keras.initializers.get(head_initializer)
        self.class_names = class_names
        self.image_size = image_size

    @property
    def class_names(self):
        """Names of the classes in label order (a list of str), or None."""
        return None if self._class_names is None else list(self._class_names)

    @class_names.setter
    def class_names(self, class_names):
        if class_names is not None:
            names = class_names
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise ValueError(
                    f"class_names must be a list of str. Received: {class_names!r}"
                )
            if len(names) != self.num_classes:
                raise ValueError(
                    f"class_names must have one name per class ({self.num_classes})."
                    f" Received: {len(names)} names {list(names)}"
                )
            if len(set(names)) != len(names):
                repeated = sorted({n for n in names if list(names).count(n) > 1})
                raise ValueError(
                    f"class_names must be distinct. Received: {repeated} repeated"
                )
            class_names = tuple(names)
        self._class_names = class_names

    @property
    def image_size(self):
        """`(height, width)` the classifier expects its images at, or None.

        The pre-training resolution of a preset, then the resolution it was
        fine-tuned at; export and evaluation resize to it by default.
        """
        return self._image_size

    @image_size.setter
    def image_size(self, image_size):
        self._image_size = None if image_size is None else check_image_size(image_size)

    def feature_extractor(self):
        """A model from the same images to the pre-logits embedding.

        The embedding is the backbone's output averaged over space, what the
        head reads: `(batch, backbone.num_features)`. It shares the
        classifier's weights.
        """
        return keras.Model(
            self.inputs[0], self.get_layer("pool").output, name=f"{self.name}_features"
        )

    @property
    def head(self):
        """The dense classification layer."""
        return self.get_layer("head")

    def call(self, inputs, training=None, mask=None):
        check_image_shape(inputs, "BiTClassifier")
        if training:
            self._record_training_size(inputs)
        return super().call(inputs, training=training, mask=mask)

    def _record_training_size(self, inputs):
        # Training at a fixed resolution (any `fit`, not only bit_fine_tune)
        # makes it the one the classifier expects: export and evaluation then
        # resize to it, and the saved config keeps it. The static shape is
        # read when `fit` traces its step, so this costs nothing per batch.
        size = tuple(inputs.shape[1:3])
        if None not in size and size != self.image_size:
            self.image_size = size

    @classmethod
    def presets(cls):
        """The preset names and their descriptions (as `Transformer.presets`).

        Example:
        >>> presets = keras_transformer_bit.models.BiTClassifier.presets()
        >>> presets["bit_tiny"].startswith("A small BiT")
        True
        """
        return bit_presets.descriptions()

    @classmethod
    def from_preset(
        cls,
        name,
        num_classes=None,
        weights=None,
        head="auto",
        class_names=None,
        **overrides,
    ):
        """Builds a classifier from a preset, optionally with official weights.

        Args:
            name: str. A key of `keras_transformer_bit.models.bit.PRESETS`
                (`"bit_m_r50x1"`, ..., `"bit_tiny"`).
            num_classes: int or None. None: `len(class_names)` when given,
                else the class count of the checkpoint when `weights` is
                given, else the preset's.
            weights: None (random init), the preset's weights tag (e.g.
                `"imagenet21k"` for BiT-M, `"imagenet"` for BiT-S, downloaded
                once into the cache), the official file name (a local file
                of that name, else downloaded), a URL, or a path to a `.npz`
                in the official format.
            head: str. What to do with the checkpoint's head: `"keep"` (the
                class counts must agree), `"replace"` (a zero head of
                `num_classes`), or `"auto"` (keep when the counts agree,
                else replace). Defaults to `"auto"`.
            class_names: list of str or None. Names of the classes.
            **overrides: `BiTClassifier` arguments (`head_initializer`,
                `image_size`, `dtype`) and `BiTBackbone` arguments replacing
                the preset's (e.g. `image_shape`). Unknown names are refused.

        Returns:
            A `BiTClassifier` whose `image_size` defaults to the preset's
            `preprocessing["image_size"]`.
        """
        preset = bit_presets.get_preset(name)  # the one look-up of `name`
        check_known_arguments(
            "BiTClassifier.from_preset",
            overrides,
            # The named parameters too, so that a misspelling of one of them
            # is matched to it (num_clases -> num_classes).
            [
                *BACKBONE_ARGUMENTS,
                "head_initializer",
                "image_size",
                "num_classes",
                "weights",
                "head",
                "class_names",
            ],
        )
        if head not in ("auto", "keep", "replace"):
            raise ValueError(
                f"head must be 'auto', 'keep' or 'replace'. Received: head={head!r}"
            )
        if num_classes is None and class_names is not None:
            num_classes = len(class_names)
        arrays = None
        if weights is not None:
            path = bit_checkpoint.resolve_weights(preset, weights)
            arrays = bit_checkpoint.read_bit_checkpoint(path)
            file_classes = bit_checkpoint.checkpoint_num_classes(arrays)
            if num_classes is None:
                if file_classes is None:
                    raise ValueError(
                        f"The checkpoint {path} has no head; pass num_classes."
                    )
                num_classes = file_classes
        if num_classes is None:
            num_classes = preset["num_classes"]
        classifier_arguments = {
            "head_initializer": overrides.pop("head_initializer", "zeros"),
            "image_size": overrides.pop(
                "image_size", preset["preprocessing"]["image_size"]
            ),
            "dtype": overrides.get("dtype"),
        }
        backbone = backbone_from_preset(preset, overrides)
        classifier = cls(
            backbone,
            num_classes=num_classes,
            class_names=class_names,
            **classifier_arguments,
        )
        if arrays is not None:
            if head == "auto":
                head = "keep" if file_classes == num_classes else "replace"
            bit_checkpoint.load_bit_checkpoint(classifier, arrays, head=head)
        return classifier

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "backbone": keras.layers.serialize(self.backbone),
            "num_classes": self.num_classes,
            "head_initializer": keras.initializers.serialize(self.head_initializer),
            "class_names": self.class_names,
            "image_size": None if self.image_size is None else list(self.image_size),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


# What BiTClassifier takes: its own arguments and the base `name` and `trainable`.
CLASSIFIER_ARGUMENTS = [
    "backbone",
    "num_classes",
    "head_initializer",
    "class_names",
    "image_size",
    "dtype",
    "name",
    "trainable",
]


def check_image_size(image_size):
    """`image_size` as a `(height, width)` pair of positive ints, or a clear error.

    Args:
        image_size: a positive int (a square) or a pair of them.
    """
    if isinstance(image_size, numbers.Integral):
        pair = (image_size, image_size)
    else:
        try:
            pair = tuple(image_size)
        except TypeError:
            pair = ()
    if len(pair) != 2 or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
        for d in pair
    ):
        raise ValueError(
            "image_size must be a positive int or a (height, width) pair of them. "
            f"Received: image_size={image_size!r}"
        )
    return tuple(int(d) for d in pair)
