"""Hold N idle TCP connections to a server (for bench/scale.sh).

Usage: python bench/idle_connections.py HOST PORT N

Opens N connections to HOST:PORT one after another (blocking connect, 10 s timeout each) and
sends nothing on them: idle keep-alive clients that have not started a request. When all are
open it prints one line, `OPEN n=<opened> failed=<failures> seconds=<time to open them all>`,
and waits for a line (or end of file) on stdin. Then it checks every connection without
reading from it (a non-blocking `recv` with MSG_PEEK: no data and no end of file means the
server still holds it open), prints `HELD alive=<still open> closed=<closed by the server>`,
closes them all and exits 0. The caller must raise `ulimit -n` above N first (each connection
is a descriptor). The gateway closes connections idle for its `--idle-timeout-seconds`
(default 60 s), so a measurement that needs them all open must end within that time.
"""

import socket
import sys
import time


def open_connections(host: str, port: int, count: int) -> tuple[list[socket.socket], int, float]:
    """Opens `count` connections; returns them, the number that failed, and seconds taken."""
    connections: list[socket.socket] = []
    failed = 0
    start = time.monotonic()
    for _ in range(count):
        try:
            connection = socket.create_connection((host, port), timeout=10)
            connection.setblocking(False)
            connections.append(connection)
        except OSError:
            failed += 1
    return connections, failed, time.monotonic() - start


def still_open(connection: socket.socket) -> bool:
    """Whether the server still holds `connection` open (nothing to read and no end of file)."""
    try:
        return connection.recv(1, socket.MSG_PEEK) != b""  # data from an idle server: still open
    except BlockingIOError:
        return True
    except OSError:
        return False


def main() -> None:
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    connections, failed, seconds = open_connections(host, port, count)
    print(f"OPEN n={len(connections)} failed={failed} seconds={seconds:.2f}", flush=True)
    sys.stdin.readline()
    alive = sum(1 for connection in connections if still_open(connection))
    print(f"HELD alive={alive} closed={len(connections) - alive}", flush=True)
    for connection in connections:
        connection.close()


if __name__ == "__main__":
    main()
