#!/usr/bin/env python3
"""Summary of a bench/soak.sh run (Python stdlib only).

Reads three files written by soak.sh:
  --samples CSV  `t,serve_rss_kib,serve_fds,replica_rss_kib,replica_fds,replicas` (t: Unix
                 seconds; replica columns are sums over the API's live replicas at that moment)
  --load CSV     load.py's `start,status,latency_s,error`, one row a request
  --windows F    one fault window a line: `KIND START END` (Unix seconds; KIND `update` or `kill`)

Prints the least-squares slope (ordinary least squares of value on time, per hour) of tern serve
RSS (MiB/h), its fd count (fds/h), the replicas' summed RSS and fds, and the failed requests:
all, inside update windows, inside kill windows, and outside every window (the target is 0). A
request is inside a window when [start, start + latency] meets [START, END + grace] (grace
`--grace` s, default 1). The last line, `SOAK …`, is for scripts to parse.
"""

import argparse
import collections
import csv


def slope_per_hour(points):
    """Least-squares slope of (t seconds, y) points, in y units per hour; 0 for fewer than 2."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mt) * (y - my) for t, y in points) / var * 3600.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--load", required=True)
    parser.add_argument("--windows", required=True)
    parser.add_argument("--grace", type=float, default=1.0)
    args = parser.parse_args()

    rows = list(csv.DictReader(open(args.samples)))
    col = lambda name, scale=1.0: [(float(r["t"]), float(r[name]) * scale) for r in rows if r[name] != ""]
    serve_rss = col("serve_rss_kib", 1 / 1024)
    serve_fds = col("serve_fds")
    rep_rss = col("replica_rss_kib", 1 / 1024)
    rep_fds = col("replica_fds")

    windows = []
    for line in open(args.windows):
        f = line.split()
        if len(f) >= 3:
            windows.append((f[0], float(f[1]), float(f[2]) + args.grace))

    sent, failed = 0, []
    for r in csv.DictReader(open(args.load)):
        sent += 1
        if r["status"] != "200":
            failed.append((float(r["start"]), float(r["latency_s"]), r["status"], r["error"]))
    inside = collections.Counter()
    outside = []
    for start, latency, status, error in failed:
        kinds = {k for k, a, b in windows if start <= b and start + latency >= a}
        if kinds:
            inside["kill" if "kill" in kinds else "update"] += 1
        else:
            outside.append((start, status, error))
    by_status = collections.Counter(s for _, _, s, _ in failed)

    first = lambda pts: pts[0][1] if pts else 0
    last = lambda pts: pts[-1][1] if pts else 0
    hours = (rows and (float(rows[-1]["t"]) - float(rows[0]["t"])) / 3600) or 0
    print(f"samples={len(rows)} over {hours * 60:.1f} min; windows: "
          f"{sum(1 for k, _, _ in windows if k == 'update')} updates, {sum(1 for k, _, _ in windows if k == 'kill')} kills")
    print(f"tern serve RSS {first(serve_rss):.1f} -> {last(serve_rss):.1f} MiB, slope {slope_per_hour(serve_rss):+.2f} MiB/h")
    print(f"tern serve fds {first(serve_fds):.0f} -> {last(serve_fds):.0f}, slope {slope_per_hour(serve_fds):+.2f} fds/h")
    print(f"replicas RSS (sum) {first(rep_rss):.1f} -> {last(rep_rss):.1f} MiB, slope {slope_per_hour(rep_rss):+.2f} MiB/h")
    print(f"replicas fds (sum) {first(rep_fds):.0f} -> {last(rep_fds):.0f}, slope {slope_per_hour(rep_fds):+.2f} fds/h")
    print(f"requests sent={sent} failed={len(failed)} in_update_windows={inside['update']} "
          f"in_kill_windows={inside['kill']} outside_windows={len(outside)}")
    print("failed_by_status: " + (" ".join(f"{k}={v}" for k, v in sorted(by_status.items())) or "none"))
    for start, status, error in outside[:10]:
        print(f"  outside: t={start:.3f} status={status} {error}")
    print(f"SOAK sent={sent} failed={len(failed)} outside={len(outside)} "
          f"serve_rss_mib_per_h={slope_per_hour(serve_rss):.2f} serve_fds_per_h={slope_per_hour(serve_fds):.2f} "
          f"replica_rss_mib_per_h={slope_per_hour(rep_rss):.2f} replica_fds_per_h={slope_per_hour(rep_fds):.2f}")


if __name__ == "__main__":
    main()
