"""Cheap unique identifiers for the hot path.

``uuid4()`` reads the OS entropy pool on every call (a syscall; measured at hundreds of microseconds under load
here); a decision needs four ids. A random per-process prefix plus a counter is unique across processes and restarts
(40 random bits per process start) and costs a string format.
"""

from __future__ import annotations

import itertools
import os
import secrets

_PREFIX = f"{secrets.token_hex(5)}{os.getpid() & 0xFFFF:04x}"
_COUNTER = itertools.count()


def new_id(kind: str) -> str:
    """``<kind><10 hex random><4 hex pid><12 hex counter>``, e.g. ``D3f9a1c02bd0b2a000000000017``."""
    return f"{kind}{_PREFIX}{next(_COUNTER):012x}"


def new_request_id() -> str:
    """32 lowercase hex digits (the shape of ``uuid4().hex``, which request ids had before): prefix + counter."""
    return f"{_PREFIX}{next(_COUNTER):018x}"
