"""Ends a multi-worker process that makes no progress, naming the dead peer."""

import contextlib
import os
import sys
import threading
import time

from keras_transformer_bit.distribute.cluster_error import WORKER_FAILURE_EXIT_CODE
from keras_transformer_bit.distribute.tf_config import unreachable_tasks


class StepWatchdog:
    """Ends the process when no step finishes for `timeout_seconds`.

    A collective waiting for a dead peer can block forever inside TensorFlow,
    out of reach of Python exceptions; exiting is then the only bounded way out.

    Work between steps that only some workers do (the chief scoring BLEU at an
    epoch end, while the others wait for it in the next collective) is not a
    hang, however long it takes: inside `paused()` the clock stands still.
    Whenever this worker waits (paused, or a step slower than
    `probe_seconds`), the watchdog checks every `probe_seconds` that each peer
    of `tf_config` still accepts connections, and exits when one stops
    answering twice in a row (its process died), long before the timeout.
    Either way the message names the peers that no longer answer.
    """

    def __init__(
        self,
        timeout_seconds,
        describe,
        tf_config=None,
        probe_seconds=5.0,
        exit_function=os._exit,
    ):
        self.timeout_seconds = timeout_seconds
        self.describe = describe
        self.tf_config = tf_config
        self.probe_seconds = probe_seconds
        self._exit = exit_function
        self._last_beat = time.monotonic()
        self._paused = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def beat(self):
        self._last_beat = time.monotonic()

    @contextlib.contextmanager
    def paused(self):
        """Excludes the enclosed work from the timeout (peers are probed)."""
        self._paused = True
        try:
            yield
        finally:
            self.beat()
            self._paused = False

    def _fail(self, reason, dead):
        named = (
            f" No answer from {', '.join(dead)}." if dead else ""
        )  # fmt: skip
        sys.stderr.write(
            f"\nERROR: {reason} during {self.describe()}.{named} Another worker "
            "probably died or the network failed. Exiting with status "
            f"{WORKER_FAILURE_EXIT_CODE}; restart every worker with the same "
            "command to resume from the last checkpoint.\n"
        )
        sys.stderr.flush()
        sys.stdout.flush()
        self._stop.set()
        self._exit(WORKER_FAILURE_EXIT_CODE)

    def _run(self):
        interval = min(1.0, self.timeout_seconds / 4, self.probe_seconds)
        last_probe, strikes = time.monotonic(), 0
        while not self._stop.wait(interval):
            now = time.monotonic()
            if self._paused:
                self._last_beat = now
            idle = now - self._last_beat
            if idle > self.timeout_seconds:
                self._fail(
                    f"no training progress for {idle:.0f} s "
                    f"(step_timeout_seconds={self.timeout_seconds})",
                    unreachable_tasks(self.tf_config),
                )
            # Waiting (paused, or a step taking long): is every peer alive?
            if self._paused or idle >= self.probe_seconds:
                if now - last_probe >= self.probe_seconds:
                    last_probe = now
                    dead = unreachable_tasks(self.tf_config)
                    strikes = strikes + 1 if dead else 0
                    if strikes >= 2:
                        self._fail("a peer stopped answering", dead)
            else:
                strikes = 0
