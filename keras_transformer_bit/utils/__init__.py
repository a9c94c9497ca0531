"""Small helpers shared across the package (argument checks, file writes).

Example:
>>> from keras_transformer_bit.utils import check_positive_int
>>> check_positive_int("batch_size", 32)
32
"""

from keras_transformer_bit.utils.check_positive_int import (  # noqa: F401
    check_positive_int,
)
from keras_transformer_bit.utils.clone_initializer import (  # noqa: F401
    clone_initializer,
)
from keras_transformer_bit.utils.write_text_atomically import (  # noqa: F401
    write_text_atomically,
)
