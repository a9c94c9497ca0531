"""The error raised when a multi-worker cluster cannot form or loses a worker."""

import re

import tensorflow as tf

# Exit status of a worker that stops because the cluster failed (EX_TEMPFAIL in
# sysexits.h: "try again later"). Schedulers can restart such workers; training
# then resumes from the last checkpoint.
WORKER_FAILURE_EXIT_CODE = 75


class ClusterError(RuntimeError):
    """A worker of the cluster is unreachable, died, or the network failed.

    The message says which addresses were involved and what to do next
    (usually: restart every worker with the same command; training resumes from
    the last checkpoint in the model directory).
    """


# Errors TensorFlow raises when a peer dies or the network breaks mid-collective.
CLUSTER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
)

# Lines of a TensorFlow error that say which task failed and how.
_TASK_LINE = re.compile(r"task[ :_]*\d|/job:|heartbeat|unavailable|peer", re.IGNORECASE)


def failure_details(error, max_lines=6, max_chars=1500):
    """TensorFlow's own account of a cluster failure: the lines naming tasks.

    Its errors put the dead task ("task:1 stopped sending heartbeats", a
    `/job:worker/replica:0/task:1` device) in the middle of a long message; the
    last line alone rarely names it.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    kept = [line for line in lines[:-1] if _TASK_LINE.search(line)][-max_lines:]
    kept.append(lines[-1])
    return " | ".join(dict.fromkeys(kept))[:max_chars]
