"""Entry point: ``python -m tern_runtime --spec FILE --socket-dir DIR --replica-id ID
--parent-pid PID [--work-url URL --job-file FILE]``.

With ``--work-url`` the process is a job worker (BatchAPI, TaskAPI) that pulls its work over
HTTP (see ``worker`` and docs/work-protocol.md); without it, a replica serving sockets.

Exit codes: 0 stopped on request (SIGTERM/SIGINT), 3 the predictor failed to load (traceback on
stderr), 4 bad arguments or spec; anything else is a crash. See docs/replica-protocol.md.
"""

from __future__ import annotations

import sys

from .loading import prepare_paths
from .log import log
from .spec import SpecError, parse
from .supervise import EXIT_USAGE, run_replica


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (``sys.argv[1:]`` when ``None``), run the replica, return the exit code."""
    try:
        spec = parse(argv)
    except SpecError as e:
        log(f"bad arguments: {e}")
        return EXIT_USAGE
    prepare_paths(spec.project_dir, spec.python_path)
    if spec.work_url is not None:
        from .worker import run_job_worker  # replicas never import it
        return run_job_worker(spec)
    return run_replica(spec)


if __name__ == "__main__":
    sys.exit(main())
