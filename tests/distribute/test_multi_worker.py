"""Multi-process tests: workers on loopback, killed workers, killed trainings.

Every child process is started by `LocalCluster` (or `subprocess.Popen`) and
ended by its process id; every wait has a hard timeout.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import LocalCluster
from tests.distribute import toy_tasks
from tests.distribute.processes import kill, wait_for_line

SCRIPT = os.path.join(os.path.dirname(__file__), "worker_script.py")


def _command(*args):
    return [sys.executable, SCRIPT, *args]


def _single_process_weights(task, epochs, steps, global_batch):
    strategy = ktb.distribute.get_strategy("one_device")
    with strategy.scope():
        model = toy_tasks.make_model(task)
        optimizer = toy_tasks.make_optimizer(task)
    loop = ktb.distribute.CustomTrainingLoop(
        model, optimizer, toy_tasks.make_loss(task), strategy=strategy
    )
    dataset = toy_tasks.make_dataset(task, global_batch, global_batch * steps)
    loop.fit(dataset, epochs=epochs, verbose=0)
    return loop.weights()


@pytest.mark.large
@pytest.mark.timeout(240)
def test_two_workers_match_single_process(tmp_path):
    task, epochs, steps, batch = "dense", 2, 2, 8
    args = ["--task", task, "--strategy", "multi_worker", "--epochs", str(epochs)]
    args += ["--steps", str(steps), "--global-batch", str(batch)]
    args += ["--model-dir", str(tmp_path / "run")]
    args += ["--weights-out", str(tmp_path / "weights_{task_index}.npz")]
    with LocalCluster(_command(*args), num_workers=2) as cluster:
        codes = cluster.wait(timeout_seconds=200)
        outputs = [cluster.output(i) for i in range(2)]
    assert codes == [0, 0], outputs
    workers = []
    for index in range(2):
        with np.load(tmp_path / f"weights_{index}.npz") as data:
            workers.append([data[f"arr_{i}"] for i in range(len(data.files))])
    reference = _single_process_weights(task, epochs, steps, batch)
    between_workers = max(np.max(np.abs(a - b)) for a, b in zip(*workers))
    to_single = max(np.max(np.abs(a - b)) for a, b in zip(workers[0], reference))
    print(f"max abs diff: workers {between_workers:.3g}, vs single {to_single:.3g}")
    assert between_workers == 0.0
    assert to_single <= 1e-5
    # Chief-only checkpoints and export; the other worker cleaned up after itself.
    run = tmp_path / "run"
    assert (run / "export" / "model.keras").exists()
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == [
        "ckpt-1.index",
        "ckpt-2.index",
    ]
    assert not (run / ".workers").exists()


@pytest.mark.large
@pytest.mark.timeout(240)
def test_killed_worker_makes_the_other_exit(tmp_path):
    # Two clusters side by side: in one the chief (coordination leader) is
    # killed, in the other the non-chief worker.
    args = ["--strategy", "multi_worker", "--epochs", "1000", "--steps", "2"]
    args += ["--sleep-per-step", "0.2", "--heartbeat-timeout", "5"]
    args += ["--step-timeout", "40"]
    clusters = [
        LocalCluster(_command(*args, "--model-dir", str(tmp_path / f"run{victim}")))
        for victim in (0, 1)
    ]
    try:
        for cluster in clusters:
            cluster.start()
        for victim, cluster in enumerate(clusters):
            survivor = 1 - victim
            assert wait_for_line(
                lambda: cluster.output(survivor), r"^EPOCH_END 3 ", 150
            ), cluster.output(survivor)
        killed_at = time.monotonic()
        for victim, cluster in enumerate(clusters):
            cluster.kill(victim, signal.SIGKILL)
        for victim, cluster in enumerate(clusters):
            survivor = 1 - victim
            code = cluster.wait_for(survivor, timeout_seconds=60)
            seconds = time.monotonic() - killed_at
            output = cluster.output(survivor)
            print(f"worker {victim} killed: the other exited {code} in {seconds:.1f} s")
            assert code == ktb.distribute.WORKER_FAILURE_EXIT_CODE, output
            assert "CLUSTER_ERROR Lost contact with the cluster" in output or (
                "a peer stopped answering" in output
            ), output
            # The dead task is named (TensorFlow's lines or the peer probe).
            dead = cluster.addresses[victim]
            assert re.search(rf"task:{victim}\b|worker:{victim} \({dead}\)", output), (
                output
            )
            assert "restart every worker" in output.lower()
    finally:
        for cluster in clusters:
            cluster.stop()


@pytest.mark.large
@pytest.mark.timeout(120)
def test_unreachable_worker_fails_in_bounded_time():
    # Worker 0 (the coordination leader) and worker 1 each alone in a cluster of
    # two: both must give up with a ClusterError naming the missing address.
    code = (
        "import os, time, keras_transformer_bit as ktb\n"
        "start = time.monotonic()\n"
        "try:\n"
        "    ktb.distribute.get_strategy('multi_worker',"
        " cluster_register_timeout_seconds=5)\n"
        "except ktb.distribute.ClusterError as error:\n"
        "    print('CLUSTER_ERROR', error, round(time.monotonic() - start, 1))\n"
        "    os._exit(75)\n"
    )
    processes, missing = [], []
    try:
        for task_index in (0, 1):
            ports = ktb.distribute.free_ports(2)
            addresses = [f"127.0.0.1:{port}" for port in ports]
            missing.append(addresses[1 - task_index])
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "TF_CONFIG": ktb.distribute.make_tf_config(addresses, task_index),
            }
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", code],
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [process.communicate(timeout=90)[0] for process in processes]
    finally:
        for process in processes:
            kill(process)
    for process, output, address in zip(processes, outputs, missing):
        assert process.returncode == 75, output
        assert f"could not reach ['{address}']" in output, output


@pytest.mark.large
@pytest.mark.timeout(200)
def test_sigkilled_fit_resumes_from_backup(tmp_path):
    command = _command(
        "--mode", "fit", "--strategy", "one_device", "--epochs", "6",
        "--steps", "4", "--sleep-per-step", "0.4",
        "--model-dir", str(tmp_path / "run"),
    )  # fmt: skip
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        # Kill mid-epoch: after epoch 2 ended and a step of epoch 3 ran.
        assert wait_for_line(log.read_text, r"^EPOCH_BEGIN 2 ", 150), log.read_text()
        time.sleep(0.6)
    finally:
        kill(process)
    first = log.read_text()
    ends = dict(re.findall(r"^EPOCH_END (\d+) (\S+)", first, re.MULTILINE))
    last_done = max(int(e) for e in ends)
    second = subprocess.run(command, capture_output=True, text=True, timeout=150).stdout
    begins = re.findall(r"^EPOCH_BEGIN (\d+) (\S+)", second, re.MULTILINE)
    resumed_epoch, resumed_weights = int(begins[0][0]), begins[0][1]
    print(
        f"killed after epoch {last_done} ended; resumed at epoch index {resumed_epoch}"
    )
    assert resumed_epoch == last_done  # 0-based: the first epoch not finished
    assert resumed_weights == ends[str(last_done)]  # weights continue
    assert re.search(r"^EPOCH_END 6 ", second, re.MULTILINE)
    assert (tmp_path / "run" / "logs").is_dir()
