"""Ends a distributed search's tuner whose chief (the oracle) is gone."""

import os
import sys
import threading
import time

import grpc
from keras_tuner.src import protos

LOST_ORACLE_EXIT_CODE = 75  # EX_TEMPFAIL: restart the job once the chief is back


def lost_oracle_message(tuner_id, address, reason):
    """The one line a tuner prints when it loses its chief (the oracle)."""
    return (
        f"{tuner_id}: lost the oracle (the chief) at {address}: {reason}. "
        "Restart the chief with the same command, then rerun this tuner with the "
        "same KERASTUNER_TUNER_ID (docs/scaling.md)."
    )


def watch_oracle(tuner, address, timeout=120.0, every=5.0):
    """Sends the chief a heartbeat from a tuner; exits if the chief is gone.

    A daemon thread asks the chief about the tuner's current trial every
    `every` seconds, which tells `serve_oracle` the tuner is alive. If the
    chief does not answer for `timeout` seconds the process prints one line
    naming the oracle's address and exits with status 75, even in the middle
    of a trial (KerasTuner's client would otherwise wait an hour per call).

    Args:
        tuner: a KerasTuner tuner on a worker (its `oracle` an `OracleClient`).
        address: str. The chief's `"ip:port"`, for the message.
        timeout: float. Seconds without an answer before exiting.
            Defaults to 120.
        every: float. Seconds between heartbeats. Defaults to 5.

    Returns:
        The daemon `threading.Thread`.

    Example:
    >>> watch_oracle(tuner, "10.0.0.1:8000")  # doctest: +SKIP
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds. Received: {timeout}")
    stub = tuner.oracle.stub
    service = protos.get_service()
    current = {}
    on_trial_begin = tuner.on_trial_begin

    def note_trial(trial):
        current["trial_id"] = trial.trial_id
        return on_trial_begin(trial)

    tuner.on_trial_begin = note_trial
    lost = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

    def beat():
        answered = time.monotonic()
        while True:
            time.sleep(every)
            try:
                if "trial_id" in current:
                    request = service.GetTrialRequest(trial_id=current["trial_id"])
                    stub.GetTrial(request, timeout=every)
                else:
                    stub.GetSpace(service.GetSpaceRequest(), timeout=every)
                answered = time.monotonic()
            except grpc.RpcError as error:
                if error.code() not in lost:  # the chief answered, with an error
                    answered = time.monotonic()
                    continue
                silent = time.monotonic() - answered
                if silent >= timeout:
                    reason = f"no answer for {silent:.0f} s ({error.code().name})"
                    line = lost_oracle_message(tuner.tuner_id, address, reason)
                    print(line, file=sys.stderr, flush=True)
                    os._exit(LOST_ORACLE_EXIT_CODE)

    thread = threading.Thread(target=beat, name="watch_oracle", daemon=True)
    thread.start()
    return thread
