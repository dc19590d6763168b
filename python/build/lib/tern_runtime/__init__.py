"""Tern's Python serving runtime.

One replica of a Python predictor: it loads the user's ``PythonPredictor`` and answers the
gateway's frames on a Unix socket. The whole contract with the Swift side is written down in
``docs/replica-protocol.md``; start it with ``python -m tern_runtime --help``.
"""

__version__ = "0.1.0"

#: Version of the replica protocol this runtime speaks (the ``protocol`` field of ``hello``).
PROTOCOL_VERSION = 1
