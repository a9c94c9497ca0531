"""Session-wide test setup.

The CPU is split into two logical devices before any TensorFlow op runs, so that
MirroredStrategy tests can run in-process (the split must happen before TF
initialises its devices; it cannot be done from inside a test).

The suite runs on the TensorFlow backend. The layer, model and sampler tests
also run on JAX (`KERAS_BACKEND=jax pytest tests/layers tests/models
tests/samplers`, as `scripts/test.sh` does); there, tests marked
`tensorflow_only` (they call TensorFlow itself) are skipped.
"""

import os

BACKEND = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

# Fails any test whose stderr shows RE2's "invalid rewrite pattern".
from tests.re2_guard import pytest_runtest_makereport  # noqa: E402, F401

if BACKEND == "tensorflow":
    import tensorflow as tf

    _cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            _cpus[0],
            [tf.config.LogicalDeviceConfiguration()] * 2,
        )
    except RuntimeError:  # already initialised by an earlier import
        pass


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"calls TensorFlow itself; this run's Keras backend is {BACKEND}"
    )
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Every test starts with float32 and fresh layer-name counters.

    Without a full garbage collection: `gc.collect()` over TensorFlow's objects
    took more than a third of the CPU time of the layer and sampler tests (85 s
    of fixture setup in a 3-minute run); Python's own collector still runs.
    """
    import keras

    keras.config.set_dtype_policy("float32")
    keras.utils.clear_session(free_memory=False)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def default_sigint():
    """Python's own Ctrl-C handler, as a command run from a terminal starts
    with (a test run started in the background may have SIGINT ignored)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
