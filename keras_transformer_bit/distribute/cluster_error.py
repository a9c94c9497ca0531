"""The error raised when a multi-worker cluster cannot form or loses a worker."""

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
