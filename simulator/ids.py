"""Deterministic ids for things derived from a record entry (claims, FHIR helper resources).

Derived ids come from a hash of the entry's id and a key naming what is derived, so they take no
draws from a person's random stream (adding an exporter never changes what is simulated) and
are the same in every run, worker and output format.
"""

from __future__ import annotations

import hashlib


def derived_id(base: str, key: str) -> str:
    """A UUID-shaped id (RFC 9562 version 8, name-based) for `key` derived from `base`."""
    h = bytearray(hashlib.blake2b(f"{base}\x1f{key}".encode(), digest_size=16).digest())
    h[6] = (h[6] & 0x0F) | 0x80
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
