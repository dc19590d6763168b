"""Cortex's Python client names over Tern's client (``tern``), so that scripts written for
Cortex (``import cortex; cx = cortex.client("aws"); cx.deploy(...)``) run with Tern by
changing nothing but the environment they name. See ``tern``'s docstring."""

from tern import Client, TernError, client  # noqa: F401

__all__ = ["client", "Client", "TernError"]
