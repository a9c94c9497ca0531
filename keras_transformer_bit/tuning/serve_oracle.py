"""Serves the chief's oracle to the tuners of a distributed search, never silently."""

import time
from concurrent import futures

import grpc
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.engine import trial as trial_module


class _Servicer(oracle_chief.OracleServicer):
    """KerasTuner's oracle service, noting when each trial's tuner last spoke."""

    def __init__(self, oracle, heard):
        super().__init__(oracle)
        self.heard = heard  # trial_id -> time.monotonic() of the last word

    def CreateTrial(self, request, context):
        response = super().CreateTrial(request, context)
        self.heard[response.trial.trial_id] = time.monotonic()
        return response

    def UpdateTrial(self, request, context):
        self.heard[request.trial_id] = time.monotonic()
        return super().UpdateTrial(request, context)

    def GetTrial(self, request, context):
        self.heard[request.trial_id] = time.monotonic()
        return super().GetTrial(request, context)

    def EndTrial(self, request, context):
        trial_id = request.trial.trial_id
        self.heard[trial_id] = time.monotonic()
        if trial_id in self.oracle._retry_queue:  # ended by its tuner after all
            self.oracle._retry_queue.remove(trial_id)
        return super().EndTrial(request, context)


def _fail_trial(oracle, tuner_id, trial, silent):
    trial.status = trial_module.TrialStatus.FAILED
    trial.message = f"tuner {tuner_id} went silent for {silent:.0f} s"
    oracle.end_trial(trial)
    oracle.tuner_ids.discard(tuner_id)


def serve_oracle(oracle, address, trial_timeout=300.0, report_every=60.0, log=print):
    """Runs the chief of a KerasTuner search until every trial has ended.

    KerasTuner's own chief waits forever, saying nothing, for a trial whose
    tuner died. Here every running trial's tuner is expected to send word (a
    trial start, a result, or the heartbeat `watch_oracle` sends every few
    seconds); a trial whose tuner stays silent for `trial_timeout` seconds is
    marked FAILED, so the search can end. While the chief waits for the last
    trials it says which trial runs on which tuner, every `report_every`
    seconds. A chief restarted over an interrupted search queues the trials
    that were running for a retry; one that its tuner finishes after all is
    taken off that queue instead of running twice.

    Args:
        oracle: the chief's `keras_tuner.Oracle` (a tuner's `oracle`).
        address: str. `"ip:port"` to listen on.
        trial_timeout: float or None. Seconds of silence after which a
            running trial's tuner counts as gone. None waits forever.
            Defaults to 300.
        report_every: float. Seconds between the progress lines printed while
            the chief waits for trials. Defaults to 60.
        log: callable printing one line. Defaults to `print`.

    Returns:
        A list of `(trial_id, tuner_id)` for the trials marked FAILED.

    Example:
    >>> failed = serve_oracle(tuner.oracle, "0.0.0.0:8000")  # doctest: +SKIP
    """
    if trial_timeout is not None and trial_timeout <= 0:
        raise ValueError(
            f"trial_timeout must be positive seconds or None. Received: {trial_timeout}"
        )
    heard = {}  # trial_id -> time.monotonic() of the last word from its tuner

    # A chief killed while it restarted may have saved, queued for a retry, a
    # trial that has ended since: it must not run again.
    oracle._retry_queue[:] = [
        trial_id for trial_id in oracle._retry_queue if trial_id not in oracle.end_order
    ]
    ended = [t for t in oracle.trials.values() if t.status != "RUNNING"]
    complete = oracle.max_trials and len(ended) >= oracle.max_trials
    if complete and not oracle._retry_queue:
        log(f"chief: all {len(ended)} trials of this search have ended already")
        return []
    servicer = _Servicer(oracle, heard)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if not server.add_insecure_port(address):
        raise ValueError(
            f"The chief cannot listen on KERASTUNER_ORACLE_IP:PORT (in use or not "
            f"this host's address). Received: {address}"
        )
    server.start()
    log(f"chief: serving the oracle at {address}")
    started = last_report = time.monotonic()
    failed, gone = [], set()
    try:
        while True:
            time.sleep(1)
            now = time.monotonic()
            for tuner_id, trial in list(oracle.ongoing_trials.items()):
                silent = now - heard.get(trial.trial_id, started)
                if trial_timeout is None or silent <= trial_timeout:
                    continue
                log(
                    f"chief: no word from {tuner_id} about trial {trial.trial_id} "
                    f"for {silent:.0f} s (--trial-timeout {trial_timeout:g}); "
                    "its tuner counts as gone and the trial is marked FAILED"
                )
                _fail_trial(oracle, tuner_id, trial, silent)
                gone.add(tuner_id)
                failed.append((trial.trial_id, tuner_id))
            ongoing = list(oracle.ongoing_trials.items())
            if servicer.stop_triggered and not ongoing and not oracle.tuner_ids - gone:
                break
            due = now - last_report >= report_every
            if ongoing and servicer.stop_triggered and due:
                last_report = now
                waits = ", ".join(
                    f"trial {trial.trial_id} on {tuner_id} (last word "
                    f"{now - heard.get(trial.trial_id, started):.0f} s ago)"
                    for tuner_id, trial in ongoing
                )
                log(f"chief: no trials left to start; waiting for {waits}")
    finally:
        server.stop(grace=2)
    return failed
