#!/usr/bin/env python3
"""Uploads hostile project bundles to a running `tern serve` and prints, per bundle, the HTTP
status, the error message and the time to answer (docs/reliability.md, Hostile bundles).

Usage: bundles.py CONTROL_URL TOKEN_FILE [NAME...]   (default: every case)
Exit 0 when every case was answered (whatever the status); 2 when the server stopped answering.
"""
import io, json, os, stat, struct, sys, time, urllib.request, urllib.error, zipfile, zlib

CONFIG = b"- name: h\n  kind: RealtimeAPI\n  predictor: {type: python, path: p.py}\n"


def zip_of(entries):
    """entries: (name: str|bytes, data: bytes, mode: int|None). Info-ZIP style Unix attributes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name if isinstance(name, str) else name.decode("latin-1"))
            info.create_system = 3
            info.external_attr = (mode if mode is not None else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return bytearray(out.getvalue())


def patch_all(data, old, new):
    return bytearray(bytes(data).replace(old, new))


def cases():
    yield "traversal ../../x", zip_of([("tern.yaml", CONFIG, None), ("../../escape", b"owned", None)])
    yield "absolute /tmp/x", zip_of([("tern.yaml", CONFIG, None), ("/tmp/tern-hostile-abs", b"owned", None)])
    yield "symlink -> /tmp, then tmp/x", zip_of([("tern.yaml", CONFIG, None), ("tmp", b"/tmp", 0o120777), ("tmp/tern-hostile-x", b"owned", None)])
    yield "FIFO entry", zip_of([("tern.yaml", CONFIG, None), ("pipe", b"", 0o010644)])
    yield "setuid 04777 file", zip_of([("tern.yaml", CONFIG, None), ("suid", b"#!/bin/sh\n", 0o104777)])
    yield "NUL in a name", patch_all(zip_of([("tern.yaml", CONFIG, None), ("p.pyX.txt", b"1", None)]), b"p.pyX", b"p.py\0")
    yield "file a and file a/b", zip_of([("tern.yaml", CONFIG, None), ("a", b"1", None), ("a/b", b"2", None)])
    yield "case collision", zip_of([("tern.yaml", CONFIG, None), ("Model.py", b"1", None), ("model.py", b"2", None)])
    yield "name of 300 bytes", zip_of([("tern.yaml", CONFIG, None), ("n" * 300, b"1", None)])
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("tern.yaml", CONFIG)
        for index in range(100_000):
            archive.writestr("f/%d" % index, b"")
    yield "100,000 entries", bytearray(many.getvalue())
    yield "ratio bomb: 512 MiB of zeros", zip_of([("tern.yaml", CONFIG, None), ("bomb.bin", b"\0" * (512 << 20), None)])
    lying = zip_of([("tern.yaml", CONFIG, None), ("bomb.bin", b"\0" * (64 << 20), None)])
    # declare 10 bytes for bomb.bin in both headers (uncompressed size fields)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = lying.find(signature, lying.find(signature) + 1)
        lying[at + offset:at + offset + 4] = struct.pack("<I", 10)
    yield "lying bomb: 64 MiB declared as 10 bytes", lying
    yield "32 MiB of junk", bytearray(b"A" * (32 << 20))
    past = zip_of([("tern.yaml", CONFIG, None)])
    at = past.find(b"PK\x01\x02")
    past[at + 42:at + 46] = struct.pack("<I", 0x7F000000)
    yield "local header offset past the end", past


def bundle_folders():
    """The bundle folders of TERN_HOSTILE_HOME (empty when it is not set)."""
    home = os.environ.get("TERN_HOSTILE_HOME")
    bundles = os.path.join(home, "bundles") if home else None
    return {os.path.join(bundles, name) for name in os.listdir(bundles)} if bundles else set()


def unsafe_files(before):
    """The files of bundle folders not in `before` that are not plain, or have unsafe modes."""
    found = []
    for folder, directories, files in (walk for bundle in sorted(bundle_folders() - before) for walk in os.walk(bundle)):
        for name in files + directories:
            info = os.lstat(os.path.join(folder, name))
            kind = "file" if stat.S_ISREG(info.st_mode) else "folder" if stat.S_ISDIR(info.st_mode) else "SPECIAL"
            if kind == "SPECIAL" or info.st_mode & 0o7022:
                found.append("%r %s mode %o" % (name, kind, info.st_mode & 0o7777))
    return (": " + ", ".join(found)) if found else ""


def main():
    url, token = sys.argv[1], open(sys.argv[2]).read().strip()
    wanted = set(sys.argv[3:])
    for name, body in cases():
        if wanted and name not in wanted:
            continue
        request = urllib.request.Request(url + "/v1/deploy?config=tern.yaml", data=bytes(body), method="POST",
                                         headers={"Authorization": "Bearer " + token, "Content-Type": "application/zip"})
        start, before = time.monotonic(), bundle_folders()
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                status, message = answer.status, "deployed" + unsafe_files(before)
        except urllib.error.HTTPError as error:
            document = json.loads(error.read() or b"{}").get("error", {})
            status, message = error.code, "%s: %s" % (document.get("kind"), document.get("message"))
        except Exception as error:  # the server died or hung
            print("%-42s %8d bytes  NO ANSWER (%s) after %.2f s" % (name, len(body), error, time.monotonic() - start))
            return 2
        print("%-42s %8d bytes  %d in %6.3f s  %s" % (name, len(body), status, time.monotonic() - start, message[:150]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
