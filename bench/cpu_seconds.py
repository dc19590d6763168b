"""Prints the CPU seconds (user + system) used so far by a process and all its descendants."""
import os
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    # fields[1] = ppid; utime, stime, cutime, cstime are fields 11..14 after the name
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def main():
    root = int(sys.argv[1])
    parents, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)], cpu[int(entry)] = stat(int(entry))
            except (OSError, ValueError):
                pass
    total = 0
    for pid in cpu:
        current = pid
        while current in parents and current > 1:
            if current == root:
                total += cpu[pid]
                break
            current = parents[current]
    print(f"{total / TICKS:.3f}")


if __name__ == "__main__":
    main()
