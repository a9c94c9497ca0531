import sys
import textwrap
import time

import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import LocalCluster

# One worker of a LocalCluster: the chief saves (or dies first, as when it is
# killed while writing model.keras), then every worker waits for it.
SCRIPT = textwrap.dedent(
    """
    import os, sys
    import keras_transformer_bit as ktb

    strategy = ktb.distribute.get_strategy("multi_worker")
    chief = ktb.distribute.is_chief_task(strategy)
    if chief and sys.argv[1] == "die":
        os._exit(9)
    try:
        ktb.distribute.wait_for_chief(strategy, saved=chief, timeout_seconds=60)
    except ktb.distribute.ClusterError as error:
        print("CLUSTER_ERROR", error, flush=True)
        sys.exit(ktb.distribute.WORKER_FAILURE_EXIT_CODE)
    print("SAVED", flush=True)
    """
)


def test_without_workers_it_does_nothing():
    started = time.monotonic()
    assert (
        ktb.distribute.wait_for_chief(tf.distribute.get_strategy(), saved=False) is None
    )
    assert time.monotonic() - started < 5  # no all-reduce, no waiting


@pytest.mark.large
@pytest.mark.timeout(240)
@pytest.mark.parametrize("chief", ["saves", "die"])
def test_workers_wait_for_the_chief(tmp_path, chief):
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    with LocalCluster([sys.executable, str(script), chief], num_workers=2) as cluster:
        cluster.start()
        survivor = cluster.wait_for(1, timeout_seconds=150)
        outputs = [cluster.output(index) for index in range(2)]
        if chief == "saves":
            assert cluster.wait_for(0, timeout_seconds=60) == 0, outputs
            assert survivor == 0 and "SAVED" in outputs[1], outputs
        else:
            # Its own work is done, but the run is not saved: 75, not 0.
            assert survivor == ktb.distribute.WORKER_FAILURE_EXIT_CODE, outputs
            assert "SAVED" not in outputs[1]
            assert "restart every worker" in outputs[1].lower(), outputs[1]
