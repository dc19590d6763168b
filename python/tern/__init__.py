"""Tern's Python client: deploy, inspect, call and delete APIs of a Tern server from scripts.

    import tern
    client = tern.client()                 # the default environment (`tern env default`), else local
    client.deploy("examples/iris-classifier/tern.yaml")
    client.get_api("iris")["status"]       # 'live'
    client.predict("iris", {"sepal_length": 5.2, ...})
    client.delete("iris")

Environments are the CLI's (``tern env configure NAME --url URL --token T``): ``local`` is the
server of ``TERN_HOME`` (default ``~/.tern``); others are read from
``TERN_HOME/environments.json``. Calls go to the control-plane API with the bearer token;
``deploy`` runs the ``tern`` CLI (``tern deploy``), which bundles the project under its ignore
rules exactly as the CLI does, as Cortex's Python client ran the Cortex CLI. Standard library
only. ``import cortex`` gives the same client under Cortex's names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["client", "Client", "TernError"]


class TernError(Exception):
    """A failed call: ``status`` (HTTP status, 0 when the server could not be reached), ``kind``
    (the error document's kind, e.g. ``not_found``) and the server's message."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(f"{status} {kind}: {message}" if status else message)
        self.status = status
        self.kind = kind
        self.message = message


def _home() -> str:
    explicit = os.environ.get("TERN_HOME")
    return os.path.abspath(explicit) if explicit else os.path.join(os.path.expanduser("~"), ".tern")


def client(env: str | None = None, *, home: str | None = None, tern_binary: str | None = None) -> "Client":
    """A client of environment ``env`` (None: the CLI's default, else ``local``).

    Args:
        env: an environment name from ``tern env list``.
        home: the ``TERN_HOME`` to read (default ``$TERN_HOME`` or ``~/.tern``).
        tern_binary: the ``tern`` executable for ``deploy`` (default ``tern`` on ``PATH``).

    Raises:
        TernError: unknown environment, or ``local`` without a running server (start one
            with ``tern up``).
    """
    home = os.path.abspath(home) if home else _home()
    environments: dict = {}
    path = os.path.join(home, "environments.json")
    if os.path.exists(path):
        with open(path) as f:
            environments = json.load(f)
    name = env or environments.get("defaultEnvironment") or "local"
    if name == "local":
        try:
            with open(os.path.join(home, "server.json")) as f:
                info = json.load(f)
            with open(os.path.join(home, "token")) as f:
                token = f.read().strip()
        except OSError:
            raise TernError(0, "unreachable", f"no Tern server is running for {home}; start one with `tern up`")
        url = info["control_url"]
    else:
        known = environments.get("environments", {})
        if name not in known:
            names = ", ".join(["local"] + sorted(known))
            raise TernError(0, "unknown_environment", f"unknown environment '{name}' (known: {names}); add it with "
                            f"`tern env configure {name} --url URL --token TOKEN`")
        url, token = known[name]["url"], known[name]["token"]
    return Client(url, token, env=name, home=home, tern_binary=tern_binary)


class Client:
    """A client of one Tern server's control-plane API (``controlURL`` and its bearer token).

    Every method raises ``TernError`` on an error answer or when the server cannot be reached.
    """

    def __init__(self, url: str, token: str, *, env: str = "local", home: str | None = None,
                 tern_binary: str | None = None, timeout: float = 60):
        self.url = url.rstrip("/")
        self.env = env
        self._token = token
        self._home = home or _home()
        self._tern = tern_binary
        self._timeout = timeout

    # control-plane API

    def _call(self, method: str, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Authorization": f"Bearer {self._token}"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as error:
            raise _error(error.code, error.read()) from None
        except (urllib.error.URLError, OSError) as error:
            raise TernError(0, "unreachable", f"cannot reach the Tern server at {self.url}: {error}") from None
        return json.loads(data) if data else None

    def info(self) -> dict:
        """``GET /v1/info``: ``version``, ``gateway_url``, ``control_url``, ``home``, ``pid``."""
        return self._call("GET", "/v1/info")

    def list_apis(self) -> list[dict]:
        """Every API's document (name, kind, status, replicas, endpoint, …), by name."""
        return self._call("GET", "/v1/apis")

    def get_api(self, name: str) -> dict:
        """One API's document; ``TernError`` with status 404 when it is not deployed."""
        return self._call("GET", "/v1/apis/" + urllib.parse.quote(name, safe=""))

    def delete(self, name: str, keep_cache: bool = False) -> None:
        """Deletes an API and stops its replicas (``keep_cache`` accepted for Cortex scripts)."""
        self._call("DELETE", "/v1/apis/" + urllib.parse.quote(name, safe=""))

    delete_api = delete

    def refresh(self, name: str, force: bool = False) -> None:
        """Restarts every replica of an API as a rolling update."""
        self._call("POST", "/v1/apis/" + urllib.parse.quote(name, safe="") + "/refresh")

    def predict(self, name: str, payload: Any, *, headers: dict | None = None, timeout: float | None = None) -> Any:
        """Sends ``payload`` to the API's endpoint: ``bytes`` as they are, ``str`` as text, other
        values as JSON. Returns the answer parsed as JSON when it is JSON, else its text."""
        endpoint = self.get_api(name)["endpoint"]
        if isinstance(payload, bytes):
            body, content_type = payload, "application/octet-stream"
        elif isinstance(payload, str):
            body, content_type = payload.encode(), "text/plain; charset=utf-8"
        else:
            body, content_type = json.dumps(payload).encode(), "application/json"
        request = urllib.request.Request(endpoint, data=body, method="POST",
                                         headers={"Content-Type": content_type, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self._timeout) as response:
                data = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            raise _error(error.code, error.read()) from None
        except (urllib.error.URLError, OSError) as error:
            raise TernError(0, "unreachable", f"cannot reach {endpoint}: {error}") from None
        return json.loads(data) if kind.startswith("application/json") else data.decode("utf-8", "replace")

    # through the CLI

    def deploy(self, config_file: str, project_dir: str | None = None, force: bool = False,
               wait: bool = False, timeout: int = 600) -> dict:
        """Deploys the APIs of ``config_file`` (a ``tern.yaml``/``cortex.yaml``, or its folder)
        with ``tern deploy``; with ``wait``, returns once they are live.

        Returns:
            ``{"apis": [{"name", "action", "revision"}], "output": the CLI's output}``.

        Raises:
            TernError: the CLI is missing or the deploy failed (its message).
        """
        binary = self._tern or shutil.which("tern")
        if not binary:
            raise TernError(0, "no_cli", "the tern CLI is not on PATH; pass tern_binary= to tern.client()")
        if project_dir is not None and not os.path.isabs(config_file):
            config_file = os.path.join(project_dir, config_file)
        arguments = [binary, "deploy", config_file, "--home", self._home, "-e", self.env,
                     "--timeout", str(timeout)]
        arguments.append("--wait" if wait else "--no-wait")
        if force:
            arguments.append("--force")
        result = subprocess.run(arguments, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
        if result.returncode != 0:
            message = result.stderr.strip().removeprefix("Error: ")
            raise TernError(0, "deploy_failed", message or f"tern deploy exited with {result.returncode}")
        apis = []
        for line in result.stdout.splitlines():
            name, _, rest = line.partition(": ")
            words = rest.split()
            if len(words) >= 3 and words[0] in ("created", "updated", "unchanged") and words[1] == "(revision":
                apis.append({"name": name, "action": words[0], "revision": int(words[2].rstrip(");"))})
        return {"apis": apis, "output": result.stdout}


def _error(status: int, data: bytes) -> TernError:
    try:
        document = json.loads(data)["error"]
        return TernError(status, document.get("kind", "http_error"), document.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return TernError(status, "http_error", data.decode("utf-8", "replace")[:500])
