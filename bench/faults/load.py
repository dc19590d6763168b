#!/usr/bin/env python3
"""Steady-rate HTTP load for the fault-injection scripts (Python stdlib only).

N threads POST one body to a URL at a steady total rate for D seconds; each thread keeps one
keep-alive connection (reconnecting after an error) and sends on its own schedule
(`rate / threads` per second; a thread whose request ran late sends its next one at once, so a
hung request delays only its thread). Every request is recorded: start time (Unix seconds),
HTTP status (0 when no answer came), error text, latency.

At the end (also when stopped early by SIGTERM or SIGINT) it writes the CSV (`--csv`:
start,status,latency_s,error) and prints a summary.
The fault window is read from `--window-file` when it exists at the end (one line:
`START END` in Unix seconds, written by the scenario script when it injected the fault and
when it saw the system recovered), or given with `--window START END`:

  sent=N ok=N failed=N failed_in_flight_at_fault=N failed_outside_window=N recovery_s=X
  failed_by_status: 502=N 0=N ...

`failed_in_flight_at_fault`: failures of requests that had started but not finished at START.
`failed_outside_window`: failures whose [start, start+latency] does not meet [START, END].
`recovery_s`: from START until the end of the last failed request that ended after START (0
when none failed).
The last line, `LOAD sent=… ok=… failed=… outside=… recovery_s=…`, is for scripts to parse.

Usage: load.py URL [--rate 100] [--threads 16] [--duration 20] [--body '{}' | --body-file F]
               [--timeout 30] [--csv out.csv] [--window-file F | --window START END]
"""

import argparse
import collections
import csv
import http.client
import os
import signal
import sys
import threading
import time
import urllib.parse


def worker(url, body, rate, deadline, timeout, records, lock, first_offset):
    """Sends at `rate` per second until `deadline` (time.monotonic); appends records."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    connection = None
    interval = 1.0 / rate
    next_send = time.monotonic() + first_offset
    headers = {"Content-Type": "application/json"}
    while True:
        now = time.monotonic()
        if next_send >= deadline:
            break
        if next_send > now:
            time.sleep(next_send - now)
        next_send += interval
        start_wall = time.time()
        start = time.monotonic()
        status, error = 0, ""
        try:
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = None
        except Exception as exc:  # connection refused/reset, timeout: recorded, never raised
            error = f"{type(exc).__name__}: {exc}"[:200]
            if connection is not None:
                connection.close()
            connection = None
        latency = time.monotonic() - start
        with lock:
            records.append((start_wall, status, latency, error))
    if connection is not None:
        connection.close()


def read_window(args):
    """The fault window (start, end) in Unix seconds, or None."""
    if args.window:
        return float(args.window[0]), float(args.window[1])
    if args.window_file and os.path.exists(args.window_file):
        fields = open(args.window_file).read().split()
        if len(fields) >= 2:
            return float(fields[0]), float(fields[1])
    return None


def summarize(records, window):
    """The summary lines of `records` (start, status, latency, error) against `window`."""
    sent = len(records)
    failed = [r for r in records if r[1] != 200]
    by_status = collections.Counter(r[1] for r in failed)
    in_flight = outside = 0
    recovery = 0.0
    if window:
        start, end = window
        for r in failed:
            r_end = r[0] + r[2]
            if r[0] < start < r_end:
                in_flight += 1
            if r_end < start or r[0] > end:
                outside += 1
            if r_end >= start:
                recovery = max(recovery, r_end - start)
    else:
        outside = len(failed)
    lines = [
        f"sent={sent} ok={sent - len(failed)} failed={len(failed)} failed_in_flight_at_fault={in_flight} "
        f"failed_outside_window={outside} recovery_s={recovery:.2f}",
        "failed_by_status: " + (" ".join(f"{k}={v}" for k, v in sorted(by_status.items())) or "none"),
    ]
    errors = collections.Counter(r[3].split(":")[0] for r in failed if r[3])
    if errors:
        lines.append("errors: " + " ".join(f"{k}={v}" for k, v in errors.most_common()))
    lines.append(f"LOAD sent={sent} ok={sent - len(failed)} failed={len(failed)} outside={outside} "
                 f"in_flight={in_flight} recovery_s={recovery:.2f}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=100.0, help="total requests per second")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds")
    parser.add_argument("--body", default="{}")
    parser.add_argument("--body-file")
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout per request, seconds")
    parser.add_argument("--csv")
    parser.add_argument("--window-file")
    parser.add_argument("--window", nargs=2, metavar=("START", "END"))
    args = parser.parse_args()
    if args.rate <= 0 or args.threads < 1 or args.duration <= 0:
        parser.error("--rate and --duration must be more than 0, --threads at least 1")
    body = open(args.body_file, "rb").read() if args.body_file else args.body.encode()
    records, lock = [], threading.Lock()
    deadline = time.monotonic() + args.duration
    per_thread = args.rate / args.threads
    threads = [
        threading.Thread(
            target=worker,
            args=(args.url, body, per_thread, deadline, args.timeout, records, lock, i / args.rate),
            daemon=True)
        for i in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    # SIGTERM (the caller giving up early, e.g. bench/soak.sh's clean-up) still writes what was
    # recorded, so a run cut short keeps its figures.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        print("stopped early (SIGTERM or SIGINT): the figures cover the requests sent so far", file=sys.stderr)
    with lock:
        records = sorted(records)
    if args.csv:
        with open(args.csv, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["start", "status", "latency_s", "error"])
            for r in records:
                writer.writerow([f"{r[0]:.6f}", r[1], f"{r[2]:.6f}", r[3]])
    for line in summarize(records, read_window(args)):
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
