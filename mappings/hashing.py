"""Stable fingerprint of a record's unified values, for the no-echo check.

The hash of what revsync wrote to a tool record is stored with the link; when the record is
read back with the same hash, the change is our own echo and starts no new writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

__all__ = ["values_hash"]


def values_hash(values: Mapping[str, object]) -> str:
    """Hex sha256 over the non-empty values, keys sorted.

    None, "" and a missing key hash alike: tools report an unset field either way, and
    writes never send empties, so they must not look like a difference.
    """
    present = {
        key: value
        for key, value in values.items()
        if value is not None and not (isinstance(value, str) and value == "")
    }
    blob = json.dumps(
        present, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
