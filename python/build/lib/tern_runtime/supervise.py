"""The processes of one replica: its workers, and the watcher of the supervisor's pid.

With ``processes_per_replica == 1`` the runtime's main process is worker 0. With more, the main
process forks the workers before loading anything, waits on them, and when one exits it sends
SIGTERM to the others and exits with the first non-zero exit code (a worker killed by signal
N counts as 128 + N). SIGTERM or SIGINT to the main process is forwarded to the workers.

Every process of the replica watches its parent (the main process watches ``--parent-pid``,
a worker watches the main process): when the parent changes, the replica's process group is
killed with SIGKILL, so no replica outlives the supervisor.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback

from .errors import LoadError
from .log import log, set_identity
from .predictor import load
from .server import Worker
from .spec import Spec

EXIT_STOPPED = 0  #: stopped on request
EXIT_LOAD_FAILED = 3  #: the predictor could not be loaded; the traceback is on stderr
EXIT_USAGE = 4  #: bad arguments or spec

PARENT_POLL_SECONDS = 0.5

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def run_replica(spec: Spec) -> int:
    """Run the whole replica described by ``spec`` and return the process exit code.

    The working directory and ``sys.path`` must already be prepared
    (``loading.prepare_paths``).
    """
    if spec.processes == 1:
        return run_worker(spec, 0, watch_pid=spec.parent_pid, leader_pid=os.getpid())
    return _run_workers(spec)


def run_worker(spec: Spec, index: int, watch_pid: int, leader_pid: int) -> int:
    """Load the predictor and serve it as worker ``index``; return the exit code.

    Args:
        spec: the replica spec.
        index: worker index; the socket is ``<socket_dir>/worker-<index>.sock``.
        watch_pid: the process whose death ends the replica (0: none).
        leader_pid: the replica's main process; its process group is killed when
            ``watch_pid`` goes away (only if it leads its group, see ``watch_parent``).

    Returns:
        0 after a SIGTERM/SIGINT stop, 3 when loading failed, 4 when the socket cannot be bound.
    """
    set_identity(spec.replica_id, index)
    watch_parent(watch_pid, leader_pid)
    try:
        predictor = load(spec.project_dir, spec.path, spec.config, kind=spec.type,
                         models=spec.models, cache_dir=spec.model_cache_dir(index),
                         status_path=spec.model_problems_path(index))
    except LoadError as e:
        if e.details:
            sys.stderr.write(e.details)
        log(f"failed to load the predictor of API {spec.api_name}: {e.message}")
        return EXIT_LOAD_FAILED
    predictor.batched = spec.server_side_batching is not None  # v2 requests then call with lists
    worker = Worker(predictor, index, spec.socket_path(index),
                    spec.temporary_socket_path(index), spec.threads)
    try:
        return worker.serve()
    except OSError as e:
        log(f"cannot serve on {spec.socket_path(index)}: {e}")
        return EXIT_USAGE


def watch_parent(parent_pid: int, leader_pid: int) -> None:
    """Start a daemon thread that kills the replica once our parent is not ``parent_pid``.

    Polls every ``PARENT_POLL_SECONDS``. If ``leader_pid`` leads this process's group (the
    supervisor starts the replica as a new session), the whole group gets SIGKILL; otherwise
    only this process does, so that a runtime started by hand never kills its caller's group.
    Does nothing when ``parent_pid`` is 0 or less.
    """
    if parent_pid <= 0:
        return

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        log(f"parent process {parent_pid} is gone; killing the replica")
        group = os.getpgrp()
        if group == leader_pid:
            os.killpg(group, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="tern-parent-watcher", daemon=True).start()


def _run_workers(spec: Spec) -> int:
    set_identity(spec.replica_id)
    leader = os.getpid()
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False

    def stop(signum=None, frame=None):
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # Block stop signals while forking, so that each child resets its handlers before any
    # can run, and the parent's handler only runs once it knows every child.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        for index in range(spec.processes):
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(spec, index, leader)
            children[pid] = index
        for s in _STOP_SIGNALS:
            signal.signal(s, stop)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    watch_parent(spec.parent_pid, leader)

    first_failure = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        if index is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            code = 128 - code
        if code and not first_failure:
            first_failure = code
        if not stopping:
            log(f"worker {index} (pid {pid}) exited with code {code}; stopping the others")
            stop()
    return first_failure


def _child(spec: Spec, index: int, leader: int) -> None:
    """Body of a forked worker process; never returns."""
    code = 1
    try:
        for s in _STOP_SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        code = run_worker(spec, index, watch_pid=leader, leader_pid=leader)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
