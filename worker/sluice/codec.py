"""Payload and result encoding: compact JSON, UTF-8.

JSON is the default because every language can enqueue it and ``sluice job``
can show it. Bytes in Redis are opaque to the protocol, so an application may
store its own encoding; the worker decodes with :func:`decode` and dead-letters
a payload that does not decode (reason ``bad_payload``).
"""

from __future__ import annotations

import json
from typing import Any


def encode(value: Any) -> bytes:
    """JSON bytes for ``value``; raises ``TypeError`` for what JSON cannot hold."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes | str) -> Any:
    """The value encoded by :func:`encode`; raises ``ValueError`` on malformed input."""
    return json.loads(data)
