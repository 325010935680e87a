"""Deterministic ids for things derived from a record entry (claims, FHIR helper resources).

Derived ids come from a hash of the entry's id and a key naming what is derived, so they take no
draws from a person's random stream (adding an exporter never changes what is simulated) and
are the same in every run, worker and output format.
"""

from __future__ import annotations

import hashlib

_VARIANT = "89ab"  # the hex digit of byte 8's high nibble with the variant bits 10


def derived_id(base: str, key: str) -> str:
    """A UUID-shaped id (RFC 9562 version 8, name-based) for `key` derived from `base`."""
    h = hashlib.blake2b(f"{base}\x1f{key}".encode(), digest_size=16).digest()
    x = h.hex()
    # byte 6's high nibble is the version (8), byte 8's top two bits the variant (10)
    return f"{x[:8]}-{x[8:12]}-8{x[13:16]}-{_VARIANT[(h[8] >> 4) & 3]}{x[17:20]}-{x[20:]}"
