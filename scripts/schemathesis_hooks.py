"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

`GET /v1/apis/{name}/logs?follow=true` streams the log until the client goes away: for the
deployed API it never ends, which a fuzzer can only report as a timeout. Every generated
`follow` is sent as `false`, so the operation answers with the log so far; following is
tested by the Swift end-to-end tests (`tern logs -f`).
"""

import schemathesis


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.operation.path == "/v1/apis/{name}/logs" and isinstance(case.query, dict) and "follow" in case.query:
        case.query["follow"] = "false"


@schemathesis.serializer("application/zip")
def zip_bytes(context, value):
    """`POST /v1/deploy`'s body (`type: string, format: binary`) as the bytes generated: never a
    valid project, so the server's answer is a 4xx (`invalid_bundle`, `invalid_config`...)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()
