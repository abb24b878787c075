"""Per-partner API keys, stored only as salted SHA-256 hashes.

A key looks like ``ck_<key_id>_<secret>``: the key id finds the record, the secret is checked against
``sha256(salt + secret)`` in constant time. The plain key is shown once, when it is created, and never written to the
keys file, so a leaked keys file does not let anyone call the API. ``python -m decision_service.services.auth
create P01`` issues a key; the run command issues a fresh development key per partner on every start and prints it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from decision_service.errors import AuthenticationError

KEY_PREFIX = "ck_"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    partner_id: str
    salt: str
    hash: str
    created_at: str
    dev: bool = False


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _load(path: Path) -> list[KeyRecord]:
    if not path.exists():
        return []
    return [KeyRecord(**r) for r in orjson.loads(path.read_bytes())["keys"]]


def _save(path: Path, records: list[KeyRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps({"version": 1, "keys": [r.__dict__ for r in records]}, option=orjson.OPT_INDENT_2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def issue_key(path: Path, partner_id: str, *, dev: bool = False) -> str:
    """Create a key for ``partner_id``, store its salted hash in ``path`` and return the plain key (shown once)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24).replace("_", "x").replace("-", "y")
    salt = secrets.token_hex(16)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    records = _load(path)
    records.append(KeyRecord(key_id, partner_id, salt, _digest(salt, secret), now, dev))
    _save(path, records)
    return f"{KEY_PREFIX}{key_id}_{secret}"


def issue_dev_keys(path: Path, partner_ids: list[str]) -> dict[str, str]:
    """Replace every development key with a fresh one per partner; return partner -> plain key."""
    kept = [r for r in _load(path) if not r.dev]
    _save(path, kept)
    return {p: issue_key(path, p, dev=True) for p in partner_ids}


class ApiKeyAuthenticator:
    """Verifies presented keys against the hashed records loaded at start-up (``reload()`` re-reads the file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_id: dict[str, KeyRecord] = {}
        self.reload()

    def reload(self) -> None:
        self._by_id = {r.key_id: r for r in _load(self.path)}

    @property
    def partners(self) -> set[str]:
        return {r.partner_id for r in self._by_id.values()}

    def authenticate(self, presented: str | None) -> str:
        """Return the partner id for a valid key, else raise :class:`AuthenticationError`."""
        if not presented:
            raise AuthenticationError("missing API key: send it in the X-API-Key header", field="X-API-Key")
        parts = presented.split("_")
        if len(parts) != 3 or not presented.startswith(KEY_PREFIX):
            raise AuthenticationError("malformed API key", field="X-API-Key")
        record = self._by_id.get(parts[1])
        if record is None or not hmac.compare_digest(record.hash, _digest(record.salt, parts[2])):
            raise AuthenticationError("unknown API key", field="X-API-Key")
        return record.partner_id


def main(argv: list[str] | None = None) -> None:
    from decision_service.settings import get_settings

    parser = argparse.ArgumentParser(description="Manage partner API keys (stored hashed).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    create = sub.add_parser("create", help="issue a key for a partner and print it once")
    create.add_argument("partner_id")
    args = parser.parse_args(argv)
    if args.cmd == "create":
        print(issue_key(get_settings().api_keys_path, args.partner_id))


if __name__ == "__main__":
    main()
