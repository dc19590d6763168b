"""One-line diagnostics of the runtime itself, written to stderr.

The supervisor captures stderr into the replica's log, so every line carries a prefix naming
the replica and the worker (``tern[r1/w0 4242]: ...``).
"""

from __future__ import annotations

import os
import sys

_prefix = "tern"


def set_identity(replica_id: str, worker: int | None = None) -> None:
    """Set the prefix of later log lines.

    Args:
        replica_id: the ``--replica-id`` argument.
        worker: the worker index, or ``None`` for the process that supervises the workers.
    """
    global _prefix
    who = replica_id if worker is None else f"{replica_id}/w{worker}"
    _prefix = f"tern[{who} {os.getpid()}]"


def log(message: str) -> None:
    """Write ``message`` (one or more lines) to stderr with the runtime prefix, in one write.

    Never raises: a closed or broken stderr is ignored.
    """
    lines = message.rstrip("\n").split("\n")
    try:
        sys.stderr.write("".join(f"{_prefix}: {line}\n" for line in lines))
        sys.stderr.flush()
    except (OSError, ValueError):
        # stderr is a pipe to the supervisor; when it is gone (tern serve was killed) logging must
        # never stop what comes next, such as killing the orphaned replica.
        pass
