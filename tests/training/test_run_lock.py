"""`RunLock`: one training run at a time in a run directory."""

import json
import os
import socket
import subprocess
import sys

import pytest

from keras_transformer_bit.training import BiTRun, RunLock, TranslationRun
from keras_transformer_bit.training.run_lock import (
    LOCK_FILE,
    RunLockedError,
    pid_is_alive,
)
from tests.cli.test_bit_cli import _image_folder
from tests.cli.test_translate_cli import _write_corpus
from tests.distribute.processes import kill, wait_for_line
from tests.training.test_bit_run import TINY as TINY_BIT
from tests.training.test_translation_run import TINY as TINY_TRANSLATION


@pytest.fixture
def live_pid():
    """The pid of a process that stays alive for the test."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _write_lock(model_dir, pid, host=None, started="2026-01-01T00:00:00+00:00"):
    os.makedirs(model_dir, exist_ok=True)
    holder = {"host": host or socket.gethostname(), "pid": pid, "started": started}
    path = os.path.join(model_dir, LOCK_FILE)
    with open(path, "w") as file:
        json.dump(holder, file)
    return path


def test_acquire_writes_who_holds_it_and_release_removes_it(tmp_path):
    model_dir = tmp_path / "run"
    lock = RunLock(str(model_dir)).acquire()
    holder = json.loads((model_dir / LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid()
    assert holder["host"] == socket.gethostname()
    assert holder["started"].endswith("+00:00")
    assert lock.held
    lock.release()
    assert not lock.held
    assert os.listdir(model_dir) == []
    lock.release()  # twice: nothing left to do


def test_a_second_acquire_is_refused_naming_the_holder(tmp_path):
    model_dir = str(tmp_path / "run")
    with RunLock(model_dir):
        with pytest.raises(RunLockedError, match=rf"pid {os.getpid()} .*{model_dir}"):
            RunLock(model_dir).acquire()
        # The refused one leaves the holder's lock in place.
        assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == (
            os.getpid()
        )
    assert not (tmp_path / "run" / LOCK_FILE).exists()


def test_a_live_process_lock_is_refused_with_what_to_do(tmp_path, live_pid):
    model_dir = str(tmp_path / "run")
    _write_lock(model_dir, live_pid)
    with pytest.raises(RunLockedError) as error:
        RunLock(model_dir).acquire()
    message = str(error.value)
    assert model_dir in message and f"pid {live_pid}" in message
    assert "2026-01-01T00:00:00+00:00" in message
    assert "another directory" in message
    assert isinstance(error.value, FileExistsError)  # the CLI prints it in one line


def test_a_dead_run_lock_of_this_host_is_taken_over(tmp_path, dead_pid, capsys):
    assert not pid_is_alive(dead_pid)
    model_dir = str(tmp_path / "run")
    _write_lock(model_dir, dead_pid)
    with RunLock(model_dir):
        holder = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid()
    assert f"pid {dead_pid}" in capsys.readouterr().err
    assert os.listdir(model_dir) == []


def test_a_lock_of_another_host_is_never_taken(tmp_path, dead_pid):
    model_dir = str(tmp_path / "run")
    path = _write_lock(model_dir, dead_pid, host="gpu-node-7")
    with pytest.raises(RunLockedError, match=r"'gpu-node-7'.*delete .*\.run\.lock"):
        RunLock(model_dir).acquire()
    assert json.loads(open(path).read())["host"] == "gpu-node-7"


def test_an_unreadable_lock_is_refused(tmp_path):
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    (model_dir / LOCK_FILE).write_text("")
    with pytest.raises(RunLockedError, match="cannot be read"):
        RunLock(str(model_dir)).acquire()


def test_released_on_an_exception_and_on_ctrl_c(tmp_path):
    model_dir = tmp_path / "run"
    for error in (RuntimeError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with RunLock(str(model_dir)):
                raise error
        assert not (model_dir / LOCK_FILE).exists()


def test_release_keeps_a_lock_that_is_not_its_own(tmp_path, live_pid):
    model_dir = str(tmp_path / "run")
    lock = RunLock(model_dir).acquire()
    _write_lock(model_dir, live_pid)  # as if taken over meanwhile
    lock.release()
    assert (tmp_path / "run" / LOCK_FILE).exists()


def test_in_memory_file_system_is_locked_too():
    model_dir = "ram://run_lock_test/run"
    with RunLock(model_dir):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            RunLock(model_dir).acquire()
    with RunLock(model_dir):  # released: free again
        pass


HOLDER_SCRIPT = """
import sys, time
from keras_transformer_bit.training.run_lock import RunLock
RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_another_process_holds_the_lock_until_it_is_killed(tmp_path, capsys):
    model_dir = str(tmp_path / "run")
    log = tmp_path / "holder.log"
    with open(log, "w") as out:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER_SCRIPT, model_dir],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for_line(log.read_text, r"^held", 60), log.read_text()
        with pytest.raises(RunLockedError, match=rf"pid {holder.pid} "):
            RunLock(model_dir).acquire()
    finally:
        kill(holder)  # SIGKILL: the lock file stays behind
    assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == (holder.pid)
    with RunLock(model_dir):
        pass
    assert f"pid {holder.pid}" in capsys.readouterr().err
    assert os.listdir(model_dir) == []


def test_bad_model_dir_is_named():
    with pytest.raises(ValueError, match="model_dir must be a non-empty path"):
        RunLock("")


def test_translation_run_refuses_a_locked_directory_before_any_work(
    tmp_path, live_pid, monkeypatch
):
    from keras_transformer_bit.training import translation_run

    def no_reading(config):
        raise AssertionError("the corpus was read")

    monkeypatch.setattr(translation_run, "load_corpus", no_reading)
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    path = _write_lock(str(model_dir), live_pid)
    run = TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus), **TINY_TRANSLATION
    )
    with pytest.raises(RunLockedError, match=rf"pid {live_pid}"):
        run.train(epochs=1, bleu_every=0)
    assert os.listdir(model_dir) == [LOCK_FILE]
    assert json.loads(open(path).read())["pid"] == live_pid


def test_translation_run_releases_its_lock(tmp_path, dead_pid):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    # A run killed before it wrote anything left only its lock: a rerun starts.
    _write_lock(str(model_dir), dead_pid)
    TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus), **TINY_TRANSLATION
    ).train(epochs=1, bleu_every=0)
    assert (model_dir / "model.keras").exists()
    assert not (model_dir / LOCK_FILE).exists()


def test_bit_run_refuses_a_locked_directory_before_any_work(
    tmp_path, live_pid, monkeypatch
):
    from keras_transformer_bit.training import bit_run

    def no_reading(*args, **kwargs):
        raise AssertionError("the images were read")

    monkeypatch.setattr(bit_run, "load_split", no_reading)
    model_dir = tmp_path / "run"
    _write_lock(str(model_dir), live_pid)
    run = BiTRun(
        str(model_dir), strategy="one_device", data="fashion_mnist", **TINY_BIT
    )
    with pytest.raises(RunLockedError, match=rf"pid {live_pid}"):
        run.train(verbose=0)
    assert os.listdir(model_dir) == [LOCK_FILE]


def test_bit_run_releases_its_lock(tmp_path):
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    BiTRun(str(model_dir), strategy="one_device", data=str(data), **TINY_BIT).train(
        verbose=0
    )
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]


def test_a_refused_fresh_bit_run_leaves_no_directory_and_no_lock(tmp_path):
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    bad = {**TINY_BIT, "micro_batch_size": 3}  # refused inside training
    with pytest.raises(ValueError, match="micro_batch_size"):
        BiTRun(str(model_dir), strategy="one_device", data=str(data), **bad).train()
    assert not model_dir.exists()


def test_the_command_line_prints_the_refusal_in_one_line(tmp_path, live_pid, capsys):
    from keras_transformer_bit.cli.main import run

    model_dir = str(tmp_path / "run")
    _write_lock(model_dir, live_pid)
    argv = ["bit", "train", "--data", "fashion_mnist", "--model-dir", model_dir]
    assert run(argv + ["--preset", "bit_tiny", "--strategy", "one_device"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("ktb: error: ") and f"pid {live_pid}" in error


def test_a_worker_that_is_not_the_chief_takes_no_lock(tmp_path, live_pid, monkeypatch):
    from keras_transformer_bit import distribute
    from keras_transformer_bit.training import bit_run

    def read(*args, **kwargs):
        raise RuntimeError("the images were read")

    # The chief of the same job holds the lock; this worker goes on past it.
    monkeypatch.setattr(distribute, "is_chief_task", lambda strategy: False)
    monkeypatch.setattr(bit_run, "load_split", read)
    model_dir = tmp_path / "run"
    _write_lock(str(model_dir), live_pid)
    run = BiTRun(
        str(model_dir), strategy="one_device", data="fashion_mnist", **TINY_BIT
    )
    with pytest.raises(RuntimeError, match="the images were read"):
        run.train(verbose=0)
    assert json.loads((model_dir / LOCK_FILE).read_text())["pid"] == live_pid
