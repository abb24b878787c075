"""Log-in: scrypt hashes, the users file, team binding."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.auth import (
    InvalidCredentialsError,
    TeamNotAllowedError,
    UsersFileError,
    authenticate,
    hash_password,
    load_users,
    verify_password,
)
from ui.settings import UI_DIR


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("s3cret"), hash_password("s3cret")
    assert a != b  # a fresh salt each time
    assert verify_password("s3cret", a) and verify_password("s3cret", b)
    assert not verify_password("s3cret!", a)


@pytest.mark.parametrize("encoded", ["", "plain", "bcrypt$1$2$3$00$00", "scrypt$x$8$1$00$00", "scrypt$16384$8$1$zz$00"])
def test_malformed_hash_never_matches(encoded: str) -> None:
    assert not verify_password("anything", encoded)


def test_dev_users_log_in_with_documented_passwords() -> None:
    users = load_users(UI_DIR / "users.yaml")
    docs = (UI_DIR.parent / "docs" / "ui.md").read_text()
    for name, password, teams in [("ria", "ria-dev", ("risk",)), ("gautam", "gautam-dev", ("growth",)),
                                  ("priya", "priya-dev", ("partnerships",)),
                                  ("asha", "asha-dev", ("risk", "growth", "partnerships"))]:
        user = authenticate(users, name, password)
        assert user.teams == teams
        assert f"`{name}`" in docs and f"`{password}`" in docs
    with pytest.raises(InvalidCredentialsError):
        authenticate(users, "ria", "gautam-dev")
    with pytest.raises(InvalidCredentialsError):
        authenticate(users, "nobody", "ria-dev")


def test_user_can_only_pick_own_teams() -> None:
    ria = load_users(UI_DIR / "users.yaml")["ria"]
    assert ria.require_team("risk") == "risk"
    with pytest.raises(TeamNotAllowedError):
        ria.require_team("growth")


@pytest.mark.parametrize(("text", "message"), [
    (None, "does not exist"),
    ("users: [", "not valid YAML"),
    ("people: {}", "top-level 'users'"),
    ("users: {x: {teams: [risk]}}", "needs 'password_hash'"),
    ("users: {x: {password_hash: h, teams: [treasury]}}", "unknown team"),
])
def test_bad_users_file_is_a_precise_error(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "users.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsersFileError, match=message):
        load_users(path)
