"""Command-line arguments and the replica spec file.

Any problem here is a usage error: the runtime exits with code 4 before loading anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field

from .predictor import LOADERS

# AF_UNIX paths are limited to 107 bytes on Linux (sun_path is 108 with the final NUL).
_MAX_SOCKET_PATH = 107


class SpecError(Exception):
    """Bad arguments or a bad spec file; ``str()`` says what is wrong."""


@dataclass
class Spec:
    """Everything a replica needs, with paths made absolute.

    Attributes:
        api_name: the API's name (for messages).
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        config: ``predictor.config`` (``{}`` when null).
        python_path: directory relative to ``project_dir`` put first on ``sys.path``, or None.
        processes: ``processes_per_replica`` (≥ 1).
        threads: ``threads_per_process`` (≥ 1): concurrent predictions per worker.
        socket_dir: absolute directory holding ``worker-<i>.sock``.
        replica_id: the replica's id (for log lines).
        parent_pid: the supervisor's pid; 0 disables the parent watcher.
        type: ``predictor.type``: a key of ``predictor.LOADERS`` (``"python"``, ``"onnx"``).
        models: ``predictor.models``: exactly one of ``{"path"}``, ``{"paths": [{"name",
            "path"}]}``, ``{"dir"}``, plus optional ints ``cache_size``, ``disk_cache_size``;
            None when the predictor has no models (see ``models.ModelManager``).
        server_side_batching: ``predictor.server_side_batching`` (``{"max_batch_size": int,
            "batch_interval_ms": int}``), or None: with it, ``predict`` takes lists, also when
            called for an Open Inference Protocol request (``v2``).
        work_url: ``--work-url``: the process is a job or queue worker that pulls work from
            this URL (docs/work-protocol.md) instead of serving sockets; None for a replica.
        job_file: ``--job-file``: the JSON of the job (kind, job id, merged config, job spec);
            given exactly when ``work_url`` is.
    """

    api_name: str
    project_dir: str
    path: str
    socket_dir: str
    replica_id: str
    parent_pid: int
    config: dict = field(default_factory=dict)
    python_path: str | None = None
    processes: int = 1
    threads: int = 1
    type: str = "python"
    models: dict | None = None
    server_side_batching: dict | None = None
    work_url: str | None = None
    job_file: str | None = None

    def socket_path(self, worker: int) -> str:
        """Path of worker ``worker``'s socket: ``<socket_dir>/worker-<worker>.sock``."""
        return os.path.join(self.socket_dir, f"worker-{worker}.sock")

    def model_cache_dir(self, worker: int) -> str:
        """Worker ``worker``'s disk cache of models copied from outside the project."""
        return os.path.join(self.socket_dir, f"models-{worker}")

    def model_problems_path(self, worker: int) -> str:
        """Where worker ``worker`` publishes its failed model reloads for the supervisor
        (``<socket_dir>/model-problems-<worker>.json``; see ``models.ModelManager``)."""
        return os.path.join(self.socket_dir, f"model-problems-{worker}.json")

    def temporary_socket_path(self, worker: int) -> str:
        """Where worker ``worker`` binds before renaming into ``socket_path``."""
        return os.path.join(self.socket_dir, f".worker-{worker}.sock.tmp")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit code 4 (bad arguments) instead of argparse's 2
        self.print_usage(sys.stderr)
        raise SpecError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tern_runtime",
        description="Serve one replica of a Tern PythonPredictor on Unix sockets "
        "(see docs/replica-protocol.md).",
    )
    parser.add_argument("--spec", required=True, help="JSON file describing the replica")
    parser.add_argument("--socket-dir", required=True, help="directory for worker-<i>.sock")
    parser.add_argument("--replica-id", required=True, help="replica id, used in log lines")
    parser.add_argument(
        "--parent-pid", type=int, default=0,
        help="the supervisor's pid; when the parent changes, the replica kills its process "
        "group (0: do not watch)",
    )
    parser.add_argument("--work-url", help="run as a job worker pulling work from this URL "
                        "(docs/work-protocol.md); needs --job-file")
    parser.add_argument("--job-file", help="JSON file describing the job (with --work-url)")
    return parser


def parse(argv: list[str] | None = None) -> Spec:
    """Parse the command line and read the spec file it names.

    Args:
        argv: the arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        The validated ``Spec``; relative paths are resolved against the current directory
        (``project_dir``) and against ``project_dir`` (``python_path`` stays relative).

    Raises:
        SpecError: a missing or unknown argument, an unreadable spec file, invalid JSON, a
            missing or mistyped key, an unsupported predictor type (not in ``LOADERS``), counts
            below 1, or a socket path too long for a Unix socket. ``--help`` exits 0 through
            ``SystemExit``.
    """
    args = _parser().parse_args(argv)
    if (args.work_url is None) != (args.job_file is None):
        raise SpecError("--work-url and --job-file go together")
    try:
        with open(args.spec, "rb") as f:
            raw = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read spec file {args.spec}: {e}") from None
    if not isinstance(raw, dict):
        raise SpecError("spec file must hold a JSON object")
    predictor = _get(raw, "predictor", dict)
    kind = predictor.get("type", "python")
    if not isinstance(kind, str) or kind not in LOADERS:
        raise SpecError(f"predictor.type {kind!r} is not supported by this runtime "
                        f"({', '.join(LOADERS)})")
    spec = Spec(
        api_name=_get(raw, "api_name", str),
        project_dir=os.path.abspath(_get(raw, "project_dir", str)),
        path=_get(predictor, "path", str, "predictor.path"),
        socket_dir=os.path.abspath(args.socket_dir),
        replica_id=args.replica_id,
        parent_pid=args.parent_pid,
        config=_get(predictor, "config", dict, "predictor.config", {}),
        python_path=_get(predictor, "python_path", str, "predictor.python_path", None),
        processes=_get(predictor, "processes_per_replica", int,
                       "predictor.processes_per_replica", 1),
        threads=_get(predictor, "threads_per_process", int,
                     "predictor.threads_per_process", 1),
        type=kind,
        models=_models(predictor.get("models")),
        server_side_batching=_get(predictor, "server_side_batching", dict,
                                  "predictor.server_side_batching", None),
        work_url=args.work_url,
        job_file=os.path.abspath(args.job_file) if args.job_file else None,
    )
    if spec.processes < 1 or spec.threads < 1:
        raise SpecError("processes_per_replica and threads_per_process must be at least 1")
    if not os.path.isdir(spec.project_dir):
        raise SpecError(f"project_dir {spec.project_dir} is not a directory")
    try:
        os.makedirs(spec.socket_dir, exist_ok=True)
    except OSError as e:
        raise SpecError(f"cannot create socket directory {spec.socket_dir}: {e}") from None
    longest = spec.temporary_socket_path(spec.processes - 1)
    if len(os.fsencode(longest)) > _MAX_SOCKET_PATH:
        raise SpecError(
            f"socket path {longest} is longer than {_MAX_SOCKET_PATH} bytes; "
            "use a shorter --socket-dir"
        )
    return spec


_MISSING = object()


def _models(value) -> dict | None:
    """Check the shape of ``predictor.models`` (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpecError("spec key predictor.models must be of type dict")
    sources = [key for key in ("path", "paths", "dir") if value.get(key) is not None]
    if len(sources) != 1:
        raise SpecError("spec key predictor.models needs exactly one of path, paths, dir")
    if sources == ["paths"]:
        paths = value["paths"]
        if not isinstance(paths, list) or not all(
                isinstance(p, dict) and isinstance(p.get("name"), str)
                and isinstance(p.get("path"), str) for p in paths):
            raise SpecError("spec key predictor.models.paths must be a list of {name, path}")
    else:
        _get(value, sources[0], str, f"predictor.models.{sources[0]}")
    for key in ("cache_size", "disk_cache_size"):
        size = _get(value, key, int, f"predictor.models.{key}", None)
        if size is not None and size < 1:
            raise SpecError(f"spec key predictor.models.{key} must be at least 1")
    return value


def _get(obj: dict, key: str, kind: type, name: str | None = None, default=_MISSING):
    value = obj.get(key)
    if value is None:
        if default is _MISSING:
            raise SpecError(f"spec key {name or key} is missing")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SpecError(f"spec key {name or key} must be of type {kind.__name__}")
    return value
