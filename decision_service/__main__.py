"""``python -m decision_service <command>``: one entry point, one module per command.

Each command module exposes ``HELP: str``, ``add_arguments(parser)`` and ``main(args) -> int``. Modules are imported
lazily, only for the command that runs, so a heavy or broken command cannot slow down or break the others. To add a
command, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "train": "decision_service.training.cli",
    "serve": "decision_service.services.launcher",
    "gate": "decision_service.training.deploy_cli:gate",
    "promote": "decision_service.training.deploy_cli:promote",
    "rollback": "decision_service.training.deploy_cli:rollback",
    "challenger": "decision_service.training.deploy_cli:challenger",
    "backfill": "decision_service.backfill.cli",
    "fairness": "decision_service.fairness:cli",
}
"""command name -> "module" or "module:prefix" (the module then exposes <prefix>_add_arguments / <prefix>_main)."""


def _resolve(target: str) -> tuple[object, str]:
    module_name, _, prefix = target.partition(":")
    module = importlib.import_module(module_name)
    return module, (prefix + "_" if prefix else "")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m decision_service <command> [options]\n\ncommands:")
        for name in COMMANDS:
            print(f"  {name}")
        print("\n`python -m decision_service <command> --help` describes a command's options.")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    name = argv[0]
    module, prefix = _resolve(COMMANDS[name])
    parser = argparse.ArgumentParser(prog=f"python -m decision_service {name}",
                                     description=getattr(module, prefix.upper() + "HELP", None))
    getattr(module, prefix + "add_arguments")(parser)
    args = parser.parse_args(argv[1:])
    return int(getattr(module, prefix + "main")(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
