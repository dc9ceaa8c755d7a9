"""Payload and result encoding: compact JSON, UTF-8.

JSON is the default because every language can enqueue it and ``sluice job``
can show it. Standard JSON only: a payload or result holding NaN or an
infinity is refused (the enqueue raises; a handler's result dead-letters the
job with reason ``bad_result``) rather than stored as ``NaN`` that strict
parsers reject. Bytes in Redis are opaque to the protocol, so an application may
store its own encoding; the worker decodes with :func:`decode` and dead-letters
a payload that does not decode (reason ``bad_payload``).
"""

from __future__ import annotations

import json
from typing import Any

# One encoder for every call: json.dumps with options builds a new one each time,
# which is a third of a small payload's encoding cost. allow_nan=False: NaN and
# Infinity are not JSON, and a consumer in another language could not read them.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(value: Any) -> bytes:
    """JSON bytes for ``value``; ``TypeError`` or ``ValueError`` (NaN, infinities) for what
    standard JSON cannot hold."""
    return _ENCODER.encode(value).encode()


def decode(data: bytes | str) -> Any:
    """The value encoded by :func:`encode`; raises ``ValueError`` on malformed input."""
    return json.loads(data)
