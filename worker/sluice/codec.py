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


# json.loads(bytes) first guesses the encoding (UTF-16 and -32 too), then skips
# whitespace around the value with two regex matches; the worker decodes every payload,
# always UTF-8 and, as encode() writes it, without surrounding whitespace.
_DECODER = json.JSONDecoder()


def decode(data: bytes | str) -> Any:
    """The value encoded by :func:`encode`; raises ``ValueError`` on malformed input."""
    text = data.decode() if isinstance(data, bytes) else data
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        end = -1
    if end == len(text):
        return value
    return _DECODER.decode(text)  # whitespace around it, or the error json.loads raises
