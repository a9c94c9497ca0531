"""A lock file that keeps a second training run out of a run directory.

Two runs training in one directory at once would both write its backups,
checkpoints, history and model, and each would resume from the other's
files. `RunLock` lets one hold the directory: it creates `.run.lock` (JSON:
host, pid, start time) in it and removes it when the run ends, however it
ends.
"""

import contextlib
import datetime
import json
import os
import socket
import sys

from keras_transformer_bit.utils.gfile import gfile, is_remote

LOCK_FILE = ".run.lock"


class RunLockedError(FileExistsError):
    """Another live run holds the run directory (or may: a foreign host's)."""


def pid_is_alive(pid):
    """Whether a process `pid` runs on this host (one of another user counts)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: checks that the process exists, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Holds a run directory for one training process at a time.

    `acquire()` creates `model_dir/.run.lock`, holding the host, pid and start
    time of this process, and `release()` removes it; as a context manager
    the lock is released on every way out (a return, an exception, Ctrl-C).
    While a live process holds the lock, `acquire()` in any other process
    raises `RunLockedError`, naming the holder. A lock left behind by a killed
    run of this host (its pid is gone) is taken over, with a line on stderr.
    A lock of another host is never taken: this host cannot tell whether that
    run is alive, so the error says to delete the file if it is not.

    On a local disk the file is created with `O_CREAT | O_EXCL`, so of two
    processes starting together exactly one gets it. Other file systems
    (`gs://`, `s3://`, `hdfs://`, `ram://`) offer no exclusive create through
    `tf.io.gfile`: there the lock is checked, then written (best-effort: two
    starts within the same moment may both pass).

    Args:
        model_dir: str. The run directory; created by `acquire()` if absent.

    Example:
    >>> import tempfile
    >>> run_dir = tempfile.mkdtemp()
    >>> with RunLock(run_dir):
    ...     os.path.exists(os.path.join(run_dir, ".run.lock"))
    True
    >>> os.path.exists(os.path.join(run_dir, ".run.lock"))
    False
    """

    def __init__(self, model_dir):
        if not model_dir or not isinstance(model_dir, (str, os.PathLike)):
            raise ValueError(
                f"model_dir must be a non-empty path. Received: {model_dir!r}"
            )
        self.model_dir = os.fspath(model_dir)
        self.path = os.path.join(self.model_dir, LOCK_FILE)
        self._text = None  # the lock file's content while this object holds it

    @property
    def held(self):
        """Whether this object holds the lock."""
        return self._text is not None

    def acquire(self):
        """Takes the lock, creating the directory if needed.

        Returns:
            This lock.

        Raises:
            RunLockedError: when another live run holds the directory, or a
                run of another host, or the lock file cannot be read.
        """
        if self.held:
            raise RuntimeError(f"This RunLock already holds {self.path}.")
        gfile.makedirs(self.model_dir)  # local, gs://, s3://, hdfs://, ram://
        text = json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"
                ),
            }
        )
        create = self._create_remote if is_remote(self.path) else self._create_local
        # A second try after taking over a stale lock; a third in case another
        # process took it over at the same moment.
        for _ in range(3):
            if create(text):
                self._text = text
                return self
            seen = self._read()
            if seen is None:
                continue  # released meanwhile
            self._check_stale(seen)
            self._take_over(seen)
        raise RunLockedError(
            f"Could not take the lock {self.path}: other runs keep taking it. "
            "Train in this directory once the others have stopped."
        )

    def release(self):
        """Removes the lock file if this object holds it (it may already be
        gone with the directory of a failed fresh run)."""
        text, self._text = self._text, None
        if text is None:
            return
        # Only our own lock: never one another run has taken since.
        if self._read() != text:
            return
        if is_remote(self.path):
            if gfile.exists(self.path):
                gfile.remove(self.path)
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()

    # ---------------------------------------------------------------- steps
    def _create_local(self, text):
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        return True

    def _create_remote(self, text):
        # Best-effort: gfile has no exclusive create, so a start between this
        # check and the write is not seen.
        if gfile.exists(self.path):
            return False
        with gfile.GFile(self.path, "w") as file:
            file.write(text)
        return True

    def _read(self):
        """The lock file's text, or None when there is none."""
        try:
            if is_remote(self.path):
                if not gfile.exists(self.path):
                    return None
                with gfile.GFile(self.path, "r") as file:
                    return file.read()
            with open(self.path, encoding="utf-8") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def _check_stale(self, text):
        """Raises `RunLockedError` unless `text` is the lock of a dead run of
        this host; prints that it is taken over otherwise."""
        try:
            holder = json.loads(text)
            host, pid, started = holder["host"], holder["pid"], holder["started"]
        except (ValueError, TypeError, KeyError):
            raise RunLockedError(
                f"{self.model_dir} is locked by {self.path}, which cannot be read "
                f"(it holds {text[:80]!r}); another run may be starting there. "
                f"If no run is training in {self.model_dir}, delete {self.path} "
                "and train again."
            ) from None
        if host != socket.gethostname():
            raise RunLockedError(
                f"{self.model_dir} is in use by a run of host {host!r} (pid "
                f"{pid}, started {started}), says {self.path}. This host cannot "
                f"tell whether that run is alive: if it is, wait for it or train "
                f"in another directory; if it is not, delete {self.path} and "
                "train again."
            )
        if pid_is_alive(pid):
            raise RunLockedError(
                f"{self.model_dir} is in use by another training run: pid {pid} "
                f"on this host ({host}), started {started}, holds {self.path}. "
                "Wait for it to finish, stop it (its next start resumes), or "
                "train in another directory."
            )
        print(
            f"Taking over {self.path}: the run that held it (pid {pid} on "
            f"{host}, started {started}) is no longer running.",
            file=sys.stderr,
            flush=True,
        )

    def _take_over(self, stale_text):
        """Removes the stale lock `stale_text`, but not a lock that another
        process has put in its place since it was read."""
        if is_remote(self.path):
            if gfile.exists(self.path):  # best-effort, as the create
                gfile.remove(self.path)
            return
        # Renamed aside, then compared: a rename moves whatever is there now.
        aside = f"{self.path}.stale-{os.getpid()}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            with open(aside, encoding="utf-8") as file:
                moved = file.read()
            if moved != stale_text:
                # Another starting process took the stale lock over first: its
                # lock goes back (unless a third has made one meanwhile).
                with contextlib.suppress(FileExistsError):
                    os.link(aside, self.path)
        finally:
            os.remove(aside)
