"""Runs one command as several workers on this machine (loopback).

Each worker is a separate process with its own `TF_CONFIG` (free ports picked
at launch), which is exactly what a multi-host job looks like, minus the hosts.
Used by the tests, `bench/distribute.py` and `tutorials/multi_worker.py`.
"""

import os
import signal
import subprocess
import tempfile
import time

from keras_transformer_bit.distribute.tf_config import free_ports, make_tf_config
from keras_transformer_bit.utils import check_positive_int


class LocalCluster:
    """Starts, watches and ends worker processes, each by its process id.

    Args:
        command: list of str. The command every worker runs.
        num_workers: int. Defaults to `2`.
        env: dict. Extra environment variables for every worker.
        log_dir: str or None. Where `worker_<i>.log` files go (stdout and
            stderr). Defaults to a new temporary directory.
        host: str. Defaults to `"127.0.0.1"`.

    Example:
    >>> with LocalCluster(  # doctest: +SKIP
    ...     [sys.executable, "train.py"], num_workers=2
    ... ) as cluster:
    ...     return_codes = cluster.wait(timeout_seconds=300)
    """

    def __init__(
        self, command, num_workers=2, env=None, log_dir=None, host="127.0.0.1"
    ):
        num_workers = check_positive_int("num_workers", num_workers)
        self.command = list(command)
        self.num_workers = num_workers
        self.env = dict(env or {})
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="ktb_cluster_")
        self.host = host
        self.addresses = []
        self.processes = []
        self._logs = []

    def start(self):
        """Picks free ports and launches the workers; returns self."""
        ports = free_ports(self.num_workers, self.host)
        self.addresses = [f"{self.host}:{port}" for port in ports]
        os.makedirs(self.log_dir, exist_ok=True)
        for index in range(self.num_workers):
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                **self.env,
                "TF_CONFIG": make_tf_config(self.addresses, index),
            }
            log = open(self.log_path(index), "w")
            self._logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    self.command, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        return self

    def log_path(self, index):
        return os.path.join(self.log_dir, f"worker_{index}.log")

    def output(self, index):
        """Everything worker `index` printed so far."""
        with open(self.log_path(index), errors="replace") as log:
            return log.read()

    def kill(self, index, sig=signal.SIGKILL):
        """Sends `sig` to worker `index` (by its process id)."""
        process = self.processes[index]
        if process.poll() is None:
            os.kill(process.pid, sig)

    def wait_for(self, index, timeout_seconds):
        """Waits for one worker; returns its exit status or None on timeout."""
        try:
            return self.processes[index].wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, timeout_seconds):
        """Waits for all workers and returns their exit statuses.

        Raises:
            TimeoutError: when some worker is still running at the deadline
                (all workers are then stopped).
        """
        deadline = time.monotonic() + timeout_seconds
        codes = []
        for index in range(self.num_workers):
            code = self.wait_for(index, max(0.0, deadline - time.monotonic()))
            if code is None:
                self.stop()
                raise TimeoutError(
                    f"worker {index} still running after {timeout_seconds} s; all "
                    f"workers stopped. Logs: {self.log_dir}"
                )
            codes.append(code)
        return codes

    def stop(self, grace_seconds=5.0):
        """Ends every worker still running: SIGTERM, then SIGKILL, by pid."""
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in self.processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        for log in self._logs:
            log.close()
        self._logs = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
