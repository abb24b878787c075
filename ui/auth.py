"""Log-in for the analyst app: configured users with salted scrypt password hashes and the teams they belong to.

A user may only pick their own teams; the team then bounds everything (copilot scope, masking, which pages show).
Hashes use the standard library's scrypt (memory-hard, salted) so no password is ever stored or compared in clear:
``python -m ui.auth 'new password'`` prints a hash to paste into the users file.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from schema_catalog.teams import load_teams

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1


class AuthError(Exception):
    """Base class of log-in failures."""


class InvalidCredentialsError(AuthError):
    """Unknown user or wrong password (deliberately not saying which)."""


class UsersFileError(AuthError):
    """The users file is missing, malformed, or names a team that does not exist."""


class TeamNotAllowedError(AuthError):
    """The user asked for a team they do not belong to."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    teams: tuple[str, ...]
    password_hash: str

    def require_team(self, team: str) -> str:
        """Return ``team`` if the user belongs to it, else raise :class:`TeamNotAllowedError`."""
        if team not in self.teams:
            raise TeamNotAllowedError(f"user {self.username!r} is not a member of team {team!r}")
        return team


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex), salted with 16 random bytes unless a salt is given."""
    if not password:
        raise ValueError("the password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"{SCHEME}${N}${R}${P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != SCHEME:
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def load_users(path: Path) -> dict[str, User]:
    """Parse the users file; every team must exist in ``schema_catalog/teams.yaml``."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as err:
        raise UsersFileError(f"users file {path} does not exist (set CREDIT_UI_USERS_PATH)") from err
    except yaml.YAMLError as err:
        raise UsersFileError(f"users file {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("users"), dict):
        raise UsersFileError(f"users file {path} must have a top-level 'users' mapping")
    known = set(load_teams())
    users: dict[str, User] = {}
    for name, entry in raw["users"].items():
        if not isinstance(entry, dict) or not entry.get("password_hash") or not entry.get("teams"):
            raise UsersFileError(f"user {name!r} in {path} needs 'password_hash' and a non-empty 'teams' list")
        teams = tuple(entry["teams"])
        unknown = sorted(set(teams) - known)
        if unknown:
            raise UsersFileError(f"user {name!r} in {path} names unknown team(s) {unknown}; known: {sorted(known)}")
        users[str(name)] = User(str(name), str(entry.get("name", name)), teams, str(entry["password_hash"]))
    return users


def authenticate(users: dict[str, User], username: str, password: str) -> User:
    """The user whose name and password match; :class:`InvalidCredentialsError` otherwise."""
    user = users.get(username.strip().lower())
    # Hash even for unknown users so the response time does not reveal which names exist.
    encoded = user.password_hash if user else hash_password("x", salt=b"0" * 16)
    if not verify_password(password, encoded) or user is None:
        raise InvalidCredentialsError("unknown user or wrong password")
    return user


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.auth", description="Print a salted scrypt hash for users.yaml")
    parser.add_argument("password")
    print(hash_password(parser.parse_args(argv).password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
