"""Big batches on small machines: split each batch, sum the gradients, step once.

Keras 3 optimizers have `gradient_accumulation_steps`, but they apply the
update inside a conditional, which `tf.distribute` cannot synchronise
("merge_call called while defining a new graph", Mirrored and multi-worker
strategies). Splitting the batch inside the training step, as the BiT
release's `--batch_split` does, keeps one unconditional `apply_gradients` per
step, so it works with every strategy, and MixUp's single lambda still covers
the whole batch. This is a TensorFlow training step (`tf.while_loop`,
`tf.distribute`), so it lives in `distribute/`, where the package may import
TensorFlow; `ktb.recipes.bit_fine_tune` imports it only when it splits.
"""

import keras
import tensorflow as tf

from keras_transformer_bit.utils import check_positive_int


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class GradientAccumulation(keras.Model):
    """Wraps a model so that `fit` computes each batch in `num_splits` parts.

    The loss of a batch is the mean of the parts' losses, and one optimizer
    update uses the sum of their gradients: the same update as the whole batch
    at once (for per-example losses and layers without batch statistics, e.g.
    group norm), with the activation memory of one part. The wrapped model
    shares its weights; save `wrapper.model`.

    Args:
        model: a Keras model.
        num_splits: int. Parts per batch; must divide the batch size.

    Example:
    >>> from keras_transformer_bit.distribute import GradientAccumulation
    >>> wrapper = GradientAccumulation(classifier, num_splits=8)  # doctest: +SKIP
    >>> wrapper.compile(optimizer=rule.optimizer(), loss=loss)  # doctest: +SKIP
    >>> wrapper.fit(batches_of_512)  # 64 images at a time  # doctest: +SKIP
    """

    def __init__(self, model, num_splits, **kwargs):
        super().__init__(**kwargs)
        num_splits = check_positive_int("num_splits", num_splits)
        self.model = model
        self.num_splits = num_splits

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def _split(self, tensor):
        batch = tf.shape(tensor)[0]
        tf.debugging.assert_equal(
            batch % self.num_splits,
            0,
            message=f"batch size must be a multiple of num_splits={self.num_splits}",
        )
        size = batch // self.num_splits
        return lambda i: tensor[i * size : (i + 1) * size]

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("GradientAccumulation does not take sample weights.")
        part_x, part_y = self._split(x), self._split(y)
        variables = self.trainable_variables
        # Keras losses divide by the replica count under a strategy (the
        # all-reduce sums); the loss metric wants the plain value back.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        def accumulate(i, gradients):
            xi, yi = part_x(i), part_y(i)
            with tf.GradientTape() as tape:
                y_pred = self(xi, training=True)
                loss = self.compute_loss(x=xi, y=yi, y_pred=y_pred, training=True)
                scaled = self.optimizer.scale_loss(loss / self.num_splits)
            part_gradients = tape.gradient(scaled, variables)
            gradients = [
                g if pg is None else g + tf.cast(pg, g.dtype)
                for g, pg in zip(gradients, part_gradients)
            ]
            self._loss_tracker.update_state(
                tf.cast(loss, tf.float32) * replicas, sample_weight=tf.shape(yi)[0]
            )
            self.compute_metrics(xi, yi, y_pred)
            return i + 1, gradients

        # A while loop, not unrolled: one copy of the model in the graph.
        _, gradients = tf.while_loop(
            lambda i, gradients: i < self.num_splits,
            accumulate,
            (tf.constant(0), [tf.zeros_like(v) for v in variables]),
        )
        self.optimizer.apply(gradients, variables)
        return self.get_metrics_result()

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "num_splits": self.num_splits,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
