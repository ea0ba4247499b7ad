"""Stable digests: trial and combination ids, Dataset keys, fold fingerprints.

The same payload gives the same digest in every process and run, so stored trials are found
again. Neither executor code nor driver code: the search space, the folds and the task plan use it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(payload: Any, length: int = 16) -> str:
    """Hex digest of a JSON-serialisable payload that is the same in every process and run."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
