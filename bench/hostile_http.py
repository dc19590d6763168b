"""Hostile HTTP input against a live `tern serve` (for bench/hostile_http.sh).

Usage: python bench/hostile_http.py GATEWAY_PORT CONTROL_PORT TOKEN_FILE [--idle N] [--slowloris N]

The gateway must serve the `echo` fixture at `/echo`. Each trial sends raw bytes over its own
TCP connection to 127.0.0.1 and records what came back: the status line and the start of the
body, and how the connection ended (`closed` by the server after S seconds, `reset`, or still
`open` when the trial gave up). While a trial runs, another thread sends normal predictions
(`POST /echo`, a new connection each) and the line gives how many answered 200 with the right
body and their latency (p50 / max ms). One line per trial:

    TRIAL name | answer | ended | others ok/sent p50 max

Then `IDLE n=… opened=… rss_before=… rss_after=… probes ok/sent p50 max` for the many-idle-
connections trial (`--idle N`, default 10000; the caller raises `ulimit -n`).
"""

import json
import os
import socket
import statistics
import sys
import threading
import time

HOST = "127.0.0.1"
BODY = b'{"n":1}'


def predict(port: int) -> tuple[bool, float]:
    """One normal prediction on a new connection: (answered 200 with the echoed body, ms)."""
    started = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=10) as s:
            s.sendall(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BODY)
            data = read_all(s, 10)[0]
        ok = data.startswith(b"HTTP/1.1 200") and data.endswith(BODY)
    except OSError:
        ok = False
    return ok, (time.monotonic() - started) * 1000


def read_all(s: socket.socket, timeout: float) -> tuple[bytes, str, float]:
    """Reads until the server ends the connection or `timeout` passes: (bytes, how, seconds)."""
    started = time.monotonic()
    data = b""
    s.settimeout(0.2)
    while time.monotonic() - started < timeout:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, "reset", time.monotonic() - started
        if not chunk:
            return data, "closed", time.monotonic() - started
        data += chunk
    return data, "open", time.monotonic() - started


class Probes:
    """Normal predictions every 50 ms on a thread while a trial runs."""

    def __init__(self, port: int):
        self.port = port
        self.results: list[tuple[bool, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.results.append(predict(self.port))
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()

    def summary(self) -> str:
        ok = [ms for good, ms in self.results if good]
        if not ok:
            return f"others 0/{len(self.results)}"
        return f"others {len(ok)}/{len(self.results)} p50 {statistics.median(ok):.1f} max {max(ok):.1f} ms"


def describe(data: bytes) -> str:
    """The status line and the start of the body of what came back, or `nothing`."""
    if not data:
        return "nothing"
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    return f"{status} {body[:110].decode('latin-1')!r}"


def trial(name: str, port: int, probe_port: int, payload: bytes, wait: float = 6, trickle: float = 0):
    """Sends `payload` (all at once, or a byte every `trickle` s) and reads until the end."""
    with Probes(probe_port) as probes:
        s = socket.create_connection((HOST, port), timeout=10)
        started = time.monotonic()
        how = ""
        try:
            if trickle:
                s.settimeout(0.01)
                data = b""
                for byte in payload:
                    try:
                        s.send(bytes([byte]))
                    except (BrokenPipeError, ConnectionResetError):
                        how = "closed while sending"
                        break
                    try:
                        chunk = s.recv(65536)
                        if not chunk:
                            how = "closed"
                            break
                        data += chunk
                    except socket.timeout:
                        pass
                    except ConnectionResetError:
                        how = "reset"
                        break
                    time.sleep(trickle)
                    if time.monotonic() - started > wait:
                        how = "open"
                        break
                else:
                    how = "sent"
                ended = time.monotonic() - started
            else:
                try:
                    s.sendall(payload)
                except (BrokenPipeError, ConnectionResetError):
                    how = "closed while sending; "
                data, end, ended = read_all(s, wait)
                how += end
        finally:
            s.close()
    print(f"TRIAL {name} | {describe(data)} | {how} after {ended:.2f} s | {probes.summary()}", flush=True)


def endless_chunks(port: int, probe_port: int, seconds: float):
    """A chunked body that never ends: 1 KiB chunks for `seconds`, then silence."""
    with Probes(probe_port) as probes:
        s = socket.create_connection((HOST, port), timeout=10)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"400\r\n" + b"a" * 1024 + b"\r\n"
        started = time.monotonic()
        sent = 0
        how = "sent"
        while time.monotonic() - started < seconds:
            try:
                s.sendall(chunk * 64)
                sent += 64 << 10
            except OSError:
                how = "closed while sending"
                break
            time.sleep(0.01)
        data, end, ended = read_all(s, 70)
        s.close()
    print(f"TRIAL chunked-without-end ({sent >> 20} MiB in {seconds:.0f} s, then silence) | {describe(data)} | {how}, {end} "
          f"{ended:.2f} s after the last chunk | {probes.summary()}", flush=True)


def slowloris(port: int, probe_port: int, count: int, seconds: float):
    """`count` connections trickling a never-ending head, one byte each per 0.5 s, for `seconds`."""
    with Probes(probe_port) as probes:
        sockets = []
        for _ in range(count):
            s = socket.create_connection((HOST, port), timeout=10)
            s.setblocking(False)
            sockets.append(s)
        head = b"POST /echo HTTP/1.1\r\nHost: t\r\n" + b"X-a: b\r\n" * 10_000
        started = time.monotonic()
        closed_at: dict[int, float] = {}
        position = 0
        while time.monotonic() - started < seconds and len(closed_at) < count:
            for index, s in enumerate(sockets):
                if index in closed_at:
                    continue
                try:
                    if s.recv(65536, socket.MSG_PEEK) == b"":
                        closed_at[index] = time.monotonic() - started
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[index] = time.monotonic() - started
                    continue
                try:
                    s.send(head[position:position + 1])
                except OSError:
                    closed_at[index] = time.monotonic() - started
            position += 1
            time.sleep(0.5)
        for s in sockets:
            s.close()
    times = sorted(closed_at.values())
    ended = f"{len(times)}/{count} closed by the server" + (f", after {times[0]:.1f}–{times[-1]:.1f} s" if times else "")
    print(f"TRIAL slowloris ({count} connections, 1 byte per 0.5 s, {seconds:.0f} s) | {ended} | {probes.summary()}", flush=True)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(port: int, probe_port: int, count: int, pid: int | None):
    before = rss_kib(pid) if pid else 0
    sockets = []
    failed = 0
    started = time.monotonic()
    for _ in range(count):
        try:
            sockets.append(socket.create_connection((HOST, port), timeout=10))
        except OSError:
            failed += 1
    opened = time.monotonic() - started
    first = predict(probe_port)
    time.sleep(2)
    with Probes(probe_port) as probes:
        time.sleep(3)
    after = rss_kib(pid) if pid else 0
    alive = 0
    for s in sockets:
        s.setblocking(False)
        try:
            alive += s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
        s.close()
    print(f"TRIAL idle ({count} connections, opened in {opened:.1f} s, {failed} failed) | {alive} still open after 3 s"
          f" | rss {before // 1024} → {after // 1024} MiB | first other {'ok' if first[0] else 'FAILED'} in {first[1]:.0f} ms;"
          f" 2 s later {probes.summary()}", flush=True)


def main():
    port, control, token_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    idle_count = int(options.get("--idle", 10000))
    pid = int(options["--pid"]) if "--pid" in options else None
    token = open(token_file).read().strip()
    print("TRIAL baseline (nothing hostile) | | |", end=" ", flush=True)
    with Probes(port) as probes:
        time.sleep(2)
    print(probes.summary(), flush=True)
    post = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
    for target, name in ((port, "gateway"), (control, "control")):
        path = b"/echo" if target == port else b"/v1/info"
        auth = b"" if target == port else b"Authorization: Bearer " + token.encode() + b"\r\n"
        line = b"POST " + path + b" HTTP/1.1\r\nHost: t\r\n" + auth
        trial(f"{name}: one 200 KB header", target, port, line + b"X-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 7\r\n\r\n" + BODY)
        trial(f"{name}: 60 headers of 2 KB (120 KB)", target, port, line + b"".join(b"X-H%d: " % i + b"a" * 2000 + b"\r\n" for i in range(60)) + b"Content-Length: 7\r\n\r\n" + BODY)
        trial(f"{name}: 10,000 headers", target, port, line + b"".join(b"X-%d: v\r\n" % i for i in range(10_000)) + b"Content-Length: 7\r\n\r\n" + BODY)
        trial(f"{name}: 150 headers (3 KB)", target, port, line + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"Content-Length: 7\r\n\r\n" + BODY)
        trial(f"{name}: 90 headers", target, port, line + b"".join(b"X-%d: v\r\n" % i for i in range(90)) + b"Content-Length: 7\r\n\r\n" + BODY)
        trial(f"{name}: method FOO", target, port, b"FOO " + path + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        trial(f"{name}: garbage line", target, port, b"hello there\r\n\r\n")
        trial(f"{name}: binary garbage (TLS hello)", target, port, bytes.fromhex("16030100a5010000a10303") + os.urandom(64))
        trial(f"{name}: HTTP/2 prior knowledge", target, port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
        for bad in (b"/../../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd", b"/echo%00", b"/ec\x00ho", b"/echo/../echo",
                    b"/v1/apis/..%2f..%2fetc%2fpasswd", b"/v1/apis/%2e%2e", b"/v1/apis/x%00/logs", b"/v1/apis/../logs", b"/v1/apis/%2e%2e/logs"):
            method = b"POST " if target == port else b"GET "
            trial(f"{name}: path {bad!r}", target, port, method + bad + b" HTTP/1.1\r\nHost: t\r\n" + auth + b"Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n" + BODY, wait=3)
        trial(f"{name}: slow head (1 byte / 0.3 s, 12 s)", target, port, post + b"X-a: b\r\n" * 500, wait=12, trickle=0.3)
    endless_chunks(port, port, 3)
    slowloris(port, port, int(options.get("--slowloris", 300)), 15)
    idle(port, port, idle_count, pid)


if __name__ == "__main__":
    main()
