"""Utils: small helpers shared across the package (argument checks, file writes).

`check_positive_int` is the one check behind every positive-integer argument
of the package: it accepts Python and NumPy integers, refuses booleans,
floats and values below 1, and names the argument in its error;
`check_rate` does the same for rates in `[0, 1)` (dropout), `check_fraction`
for shares in `[0, 1]` (the learning-rate cooldown), all on
`is_finite_number` (a real, finite number, not a bool), and `check_seed`
for random seeds (ints in `[0, 2**32 - 1]`), and `check_mbr_options` for
the minimum-Bayes-risk decoding settings. A `SettingError` is a
`ValueError` whose message each caller words in its own names of the
settings (`--max-length` under `ktb`, `max_length` in Python):
`restate_setting_errors(names)` around a call restates it.
`clone_initializer` gives each sublayer its own copy of an initializer (an
unseeded Keras 3 initializer returns the same values on every call, so a
shared instance would make copied weights). `write_text_atomically` writes
a file through a temporary file, fsync and a rename, so a kill never leaves
half a file. `plot_attention` draws attention probabilities as one heatmap
per head (needs the `plot` extra, matplotlib).

Example:
>>> from keras_transformer_bit.utils import check_positive_int
>>> check_positive_int("batch_size", 32)
32
"""

from keras_transformer_bit.utils.check_fraction import check_fraction
from keras_transformer_bit.utils.check_mbr_options import check_mbr_options
from keras_transformer_bit.utils.check_non_negative_int import check_non_negative_int
from keras_transformer_bit.utils.check_positive_int import check_positive_int
from keras_transformer_bit.utils.check_rate import check_rate
from keras_transformer_bit.utils.check_seed import check_seed
from keras_transformer_bit.utils.clone_initializer import clone_initializer
from keras_transformer_bit.utils.is_finite_number import is_finite_number
from keras_transformer_bit.utils.plot_attention import plot_attention
from keras_transformer_bit.utils.setting_error import (
    SettingError,
    restate_setting_errors,
)
from keras_transformer_bit.utils.write_text_atomically import write_text_atomically

__all__ = [
    "check_fraction",
    "check_mbr_options",
    "check_non_negative_int",
    "check_positive_int",
    "check_rate",
    "check_seed",
    "clone_initializer",
    "is_finite_number",
    "plot_attention",
    "restate_setting_errors",
    "SettingError",
    "write_text_atomically",
]
