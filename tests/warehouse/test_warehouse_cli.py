"""``python -m warehouse``: argument validation (exit 2, one clear message), generate, --if-missing, info, run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from warehouse.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def _paths(tmp_path: Path) -> list[str]:
    return ["--path", str(tmp_path / "w.duckdb"), "--replica-path", str(tmp_path / "r.duckdb")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "argument --days: must be a positive integer, got 0"),
        (["--days", "-3"], "argument --days: must be a positive integer, got -3"),
        (["--per-day", "lots"], "argument --per-day: expected a positive integer, got 'lots'"),
        (["--seed", "-1"], "argument --seed: must be between 0 and 2147483647"),
        (["--start-date", "2026-13-01"], "argument --start-date: expected a date as YYYY-MM-DD"),
        (["--scenario", "bogus"], "argument --scenario: invalid choice: 'bogus'"),
        (["--scenario", "none", "feature_zero"], "scenario 'none' cannot be combined"),
        (["--force", "--if-missing"], "not allowed with argument"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["generate", *args, *_paths(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "w.duckdb").exists()


def test_unwritable_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--path", str(blocker / "w.duckdb"), "--replica-path", str(tmp_path / "r.duckdb")])
    assert exc.value.code == 2
    assert f"cannot write the warehouse file {blocker / 'w.duckdb'}" in capsys.readouterr().err


def test_generate_publishes_replica_then_if_missing_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--days", "3", "--per-day", "100", "--seed", "9", "--quiet", *_paths(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "applications" in out and "replica published" in out
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM applications").fetchone()[0] == 300
    mtime = (tmp_path / "w.duckdb").stat().st_mtime_ns

    assert main([*args, "--if-missing"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (tmp_path / "w.duckdb").stat().st_mtime_ns == mtime

    with pytest.raises(SystemExit) as exc:  # same file, other parameters: refuse rather than silently rebuild
        main(["generate", "--days", "3", "--per-day", "100", "--seed", "10", "--if-missing", *_paths(tmp_path)])
    assert exc.value.code == 2
    assert "holds a different world" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exc:  # plain generate never overwrites silently
        main(args)
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err

    assert main(["info", "--path", str(tmp_path / "r.duckdb")]) == 0
    info = capsys.readouterr().out
    assert "schema version" in info and "seed 9, 3 days x 100/day" in info
    assert "applications" in info and "300" in info


def test_real_process_reports_bad_input_on_stderr_with_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "CREDIT_WAREHOUSE_PATH": str(tmp_path / "w.duckdb"),
           "CREDIT_WAREHOUSE_REPLICA_PATH": str(tmp_path / "r.duckdb")}
    proc = subprocess.run([sys.executable, "-m", "warehouse", "generate", "--days", "-1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "must be a positive integer" in proc.stderr and proc.stdout == ""


def test_force_refuses_a_file_another_process_is_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--days", "2", "--per-day", "50", "--quiet", *_paths(tmp_path)]
    assert main(args) == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(tmp_path / 'w.duckdb')!r}); "
                               "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert main([*args, "--force"]) == 1
        assert "is open by another process" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", ["generate", "info", "run", "monitor", "diagnose"])
def test_every_subcommand_is_wired(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"python -m warehouse {command}" in capsys.readouterr().out
