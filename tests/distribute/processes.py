"""Helpers for tests that start processes: wait on their output, end them by pid."""

import os
import re
import signal
import time


def wait_for_line(read, pattern, timeout_seconds, interval_seconds=0.2):
    """Polls `read()` until a line matches `pattern`; False after the timeout."""
    return wait_until(
        lambda: re.search(pattern, read(), re.MULTILINE),
        timeout_seconds,
        interval_seconds,
    )


def wait_until(condition, timeout_seconds, interval_seconds=0.2):
    """Polls `condition()` until it is true; False after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_seconds)
    return False


def kill(process):
    """Ends a `subprocess.Popen` with SIGKILL, by its pid, and reaps it."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
