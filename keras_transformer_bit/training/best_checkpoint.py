"""Keeps the weights of the best validation BLEU beside the last ones."""

import json
import math
import os

import keras

from keras_transformer_bit.utils.gfile import gfile
from keras_transformer_bit.utils.write_text_atomically import write_text_atomically


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever validation BLEU beats the best so far.

    Writes `best.keras` (through a temporary file and a rename, so a kill
    never leaves half a model) and `best.json` (`{"epoch", "val_bleu"}`) into
    `model_dir`. A resumed run reads `best.json` first, so only a better
    epoch replaces an earlier run's best. Put it after the callback that
    logs `val_bleu` (`BleuCallback`); epochs without that value are skipped.

    Args:
        model_dir: str. The run directory.
        model_file: str. Name of the weights file. Defaults to `"best.keras"`.
        record_file: str. Name of the JSON record. Defaults to `"best.json"`.
        copy_weights: bool. Save a copy of the model built from its config,
            with its weights but without optimizer or metrics. Needed when
            only the chief of a MultiWorkerMirroredStrategy calls the
            callback: there, reading sync-on-read variables (metrics) is an
            all-reduce the other workers would not join; the mirrored model
            weights are read locally. Defaults to `False`.

    Example:
    >>> callbacks = [bleu_callback, BestCheckpoint("runs/de_en")]  # doctest: +SKIP
    """

    def __init__(
        self,
        model_dir,
        model_file="best.keras",
        record_file="best.json",
        copy_weights=False,
    ):
        super().__init__()
        self.copy_weights = copy_weights
        self.model_path = os.path.join(model_dir, model_file)
        self.record_path = os.path.join(model_dir, record_file)
        self.best = -math.inf
        if gfile.exists(self.record_path):
            with gfile.GFile(self.record_path, "r") as file:
                self.best = float(json.load(file)["val_bleu"])

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_bleu")
        if value is None or not float(value) > self.best:
            return
        self.best = float(value)
        staging = self.model_path + ".tmp.keras"
        if self.copy_weights:
            # Model weights are mirrored: each worker reads its own copy.
            copy = self.model.__class__.from_config(self.model.get_config())
            copy.set_weights(self.model.get_weights())
            copy.save(staging)
        else:
            self.model.save(staging)
        gfile.rename(staging, self.model_path, overwrite=True)
        record = {"epoch": epoch + 1, "val_bleu": self.best}
        write_text_atomically(self.record_path, json.dumps(record) + "\n")
        print(f"Epoch {epoch + 1}: val_bleu {self.best:.2f} is the best so far; "
              f"saved {self.model_path}")  # fmt: skip
