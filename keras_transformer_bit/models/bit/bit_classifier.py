import keras

from keras_transformer_bit.models.bit.bit_backbone import (
    BiTBackbone,
    check_image_shape,
    default_name,
)
from keras_transformer_bit.utils import check_positive_int


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

    Args:
        backbone: a `BiTBackbone`.
        num_classes: int. Number of classes, >= 1.
        head_initializer: initializer of the head kernel. Defaults to
            `"zeros"`.
        dtype: dtype policy of the head. Defaults to the backbone's.
        **kwargs: `name`, `trainable`.

    Example:
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=5)
    >>> clf(keras.ops.zeros((2, 32, 32, 3))).shape
    (2, 5)
    """

    def __init__(
        self, backbone, num_classes, head_initializer="zeros", dtype=None, **kwargs
    ):
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

        # === Config ===
        self.backbone = backbone
        self.num_classes = num_classes
        self.head_initializer = keras.initializers.get(head_initializer)

    @property
    def head(self):
        """The dense classification layer."""
        return self.get_layer("head")

    def call(self, inputs, training=None, mask=None):
        check_image_shape(inputs, "BiTClassifier")
        return super().call(inputs, training=training, mask=mask)

    @classmethod
    def from_preset(
        cls, name, num_classes=None, weights=None, head="auto", **overrides
    ):
        """Builds a classifier from a preset, optionally with official weights.

        Args:
            name: str. A key of `keras_transformer_bit.models.bit.PRESETS`
                (`"bit_m_r50x1"`, ..., `"bit_tiny"`).
            num_classes: int or None. None: the class count of the checkpoint
                when `weights` is given, else the preset's.
            weights: None (random init), the preset's weights tag (e.g.
                `"imagenet21k"` for BiT-M, `"imagenet"` for BiT-S, downloaded
                once into the cache), the official file name (a local file
                of that name, else downloaded), a URL, or a path to a `.npz`
                in the official format.
            head: str. What to do with the checkpoint's head: `"keep"` (the
                class counts must agree), `"replace"` (a zero head of
                `num_classes`), or `"auto"` (keep when the counts agree,
                else replace). Defaults to `"auto"`.
            **overrides: `BiTBackbone` arguments replacing the preset's, e.g.
                `dtype` or `image_shape`.

        Returns:
            A `BiTClassifier`.
        """
        from keras_transformer_bit.models.bit import bit_checkpoint, bit_presets

        preset = bit_presets.get_preset(name)
        path = None
        if weights is not None:
            path = bit_checkpoint.resolve_weights(name, weights)
            file_classes = bit_checkpoint.checkpoint_num_classes(
                bit_checkpoint.read_bit_checkpoint(path)
            )
            if num_classes is None:
                if file_classes is None:
                    raise ValueError(
                        f"The checkpoint {path} has no head; pass num_classes."
                    )
                num_classes = file_classes
        if num_classes is None:
            num_classes = preset["num_classes"]
        if head not in ("auto", "keep", "replace"):
            raise ValueError(
                f"head must be 'auto', 'keep' or 'replace'. Received: head={head!r}"
            )
        dtype = overrides.pop("dtype", None)
        backbone = BiTBackbone(
            **{**bit_presets.preset_config(name), **overrides}, dtype=dtype
        )
        classifier = cls(backbone, num_classes=num_classes, dtype=dtype)
        if path is not None:
            if head == "auto":
                head = "keep" if file_classes == num_classes else "replace"
            bit_checkpoint.load_bit_checkpoint(classifier, path, head=head)
        return classifier

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "backbone": keras.layers.serialize(self.backbone),
            "num_classes": self.num_classes,
            "head_initializer": keras.initializers.serialize(self.head_initializer),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)
