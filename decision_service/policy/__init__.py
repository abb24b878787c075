"""Per-lender credit policies as versioned YAML data, validated at load time.

Public API::

    load_policy(lender_id, policy_dir=None) -> Policy
    load_policies(policy_dir=None) -> dict[str, Policy]
    Policy.version, Policy.targets, Policy.decide(pd, features, thresholds) -> PolicyResult
    amortised_emi(principal, apr_pct, tenure_months)

Files live in ``decision_service/policy/policies/<lender_id>.yaml`` (overridable through the decision-service
settings' ``policy_dir``). ``policies/__invalid/`` holds golden broken files that the tests load to pin the exact
error message of each mistake; they are never picked up as real policies.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from decision_service.policy.engine import (
    APPROVE,
    DECISIONS,
    DECLINE,
    OFFER_BELOW_MINIMUM,
    REFER,
    Policy,
    PolicyInputError,
    PolicyResult,
    ThresholdsLike,
    amortised_emi,
)
from decision_service.policy.spec import PolicySpec

PACKAGE_POLICY_DIR = Path(__file__).resolve().parent / "policies"

__all__ = [
    "APPROVE",
    "DECISIONS",
    "DECLINE",
    "OFFER_BELOW_MINIMUM",
    "PACKAGE_POLICY_DIR",
    "REFER",
    "Policy",
    "PolicyError",
    "PolicyInputError",
    "PolicyNotFoundError",
    "PolicyResult",
    "PolicyValidationError",
    "ThresholdsLike",
    "amortised_emi",
    "load_policies",
    "load_policy",
    "load_policy_file",
]


class PolicyError(Exception):
    """Base class of every policy-loading problem."""


class PolicyNotFoundError(PolicyError, FileNotFoundError):
    """No policy file exists for the lender."""


class PolicyValidationError(PolicyError, ValueError):
    """A policy file is malformed; ``problems`` lists each one as ``(field path, message)``."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{loc}: {msg}" if loc else msg for loc, msg in problems]
        super().__init__(f"invalid policy file {path.name}: " + "; ".join(lines))


def _default_dir() -> Path:
    from decision_service.settings import get_settings

    return Path(get_settings().policy_dir)


def load_policy_file(path: Path) -> Policy:
    """Load and validate one policy file; every problem is reported with its field path."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise PolicyNotFoundError(f"no policy file {path}") from exc
    except yaml.YAMLError as exc:
        raise PolicyValidationError(path, [("", f"not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise PolicyValidationError(path, [("", "top level must be a mapping")])
    try:
        spec = PolicySpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append((loc, msg))
        raise PolicyValidationError(path, problems) from exc
    if spec.lender_id != path.stem and path.parent.name != "__invalid":
        problem = f"file {path.name} declares lender_id {spec.lender_id}; name it {spec.lender_id}.yaml"
        raise PolicyValidationError(path, [("lender_id", problem)])
    return Policy(spec)


def load_policy(lender_id: str, policy_dir: Path | str | None = None) -> Policy:
    """The current policy of one lender."""
    directory = Path(policy_dir) if policy_dir is not None else _default_dir()
    path = directory / f"{lender_id}.yaml"
    if not path.exists():
        raise PolicyNotFoundError(f"no policy for lender {lender_id!r}: {path} does not exist")
    return load_policy_file(path)


def load_policies(policy_dir: Path | str | None = None) -> dict[str, Policy]:
    """Every lender's policy in the directory (top level only; ``__invalid/`` is ignored)."""
    directory = Path(policy_dir) if policy_dir is not None else _default_dir()
    return {p.stem: load_policy_file(p) for p in sorted(directory.glob("*.yaml"))}
