"""Build a pure-Python wheel from a package folder, with the standard library only (offline).

Usage: python build_wheel.py [SOURCE_DIR NAME VERSION OUT_DIR]
Default: local_packages/iris_features iris_features 1.0.0 wheels

SOURCE_DIR holds the package folder NAME (its ``__init__.py`` and modules). The wheel is
``OUT_DIR/NAME-VERSION-py3-none-any.whl``, laid out as PEP 427 says (``.dist-info`` with METADATA,
WHEEL and a RECORD of SHA-256 digests), so ``pip install`` accepts it without a build backend or
network. Real projects do not need this: they list PyPI packages in requirements.txt.
"""

import base64
import hashlib
import os
import sys
import zipfile


def _record_entry(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build(source_dir, name, version, out_dir):
    """Write the wheel and return its path."""
    files = {}
    package_dir = os.path.join(source_dir, name)
    for folder, _, names in os.walk(package_dir):
        for file_name in sorted(names):
            if file_name.endswith(".pyc"):
                continue
            full = os.path.join(folder, file_name)
            relative = os.path.relpath(full, source_dir).replace(os.sep, "/")
            with open(full, "rb") as handle:
                files[relative] = handle.read()
    if not files:
        raise SystemExit(f"no files under {package_dir}")
    dist_info = f"{name}-{version}.dist-info"
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tern build_wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_entry(path, data) for path, data in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    os.makedirs(out_dir, exist_ok=True)
    wheel = os.path.join(out_dir, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    arguments = sys.argv[1:] or [
        os.path.join(here, "local_packages", "iris_features"), "iris_features", "1.0.0", os.path.join(here, "wheels")
    ]
    if len(arguments) != 4:
        raise SystemExit(__doc__)
    print(build(*arguments))
