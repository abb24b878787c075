"""The policy file format: a typed, validated description of one lender's credit appetite.

A policy is data, not code, so a credit officer can change an appetite by editing a versioned YAML file and the change
is reviewed like any other. Because the file is data, everything that can be wrong with it must be caught when it is
loaded, with a message that names the file, the field and the problem — never at 2 a.m. on the first application
that happens to reach a gapped pricing band. The checks:

* rules may only name features the feature module produces (``features.FEATURE_NAMES``);
* pricing bands must tile the whole PD range [0, 1] without gaps or overlaps, in ascending order;
* APRs must lie inside the lender's declared APR bounds and must not fall as risk rises;
* tenures, amounts and target rates must be sane.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from decision_service.features import FEATURE_NAMES

Action = Literal["refer", "decline"]
CODE_PATTERN = r"^[A-Z][A-Z0-9_]{2,40}$"
# Bands are compared with this tolerance so 0.1 + 0.2 style float noise in YAML never reads as a gap.
EDGE_TOLERANCE = 1e-9
RESERVED_CODE = "OFFER_BELOW_MINIMUM"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Targets(_Strict):
    """Approve and refer rates the lender aims for; the deployment gate recalibrates thresholds towards them."""

    approve_rate: float = Field(gt=0, lt=1)
    refer_rate: float = Field(ge=0, lt=1)

    @model_validator(mode="after")
    def _sum_below_one(self) -> Targets:
        if self.approve_rate + self.refer_rate >= 1:
            raise ValueError(
                f"approve_rate + refer_rate must be below 1 (got {self.approve_rate} + {self.refer_rate})"
            )
        return self


class ThinFileRule(_Strict):
    """What the lender does with an applicant who has no bureau score: a state, not a zero score."""

    action: Action
    code: str = Field(default="THIN_FILE", pattern=CODE_PATTERN)
    description: str = "Insufficient credit history for a bureau score"


class HardRule(_Strict):
    """A knock-out: when ``feature <op> value`` holds, the decision becomes at least ``action``.

    Hard rules can only make a decision worse (approve -> refer -> decline), never better: the model band is the
    ceiling. A missing feature (NULL) never silently passes or fails a rule by accident of NaN arithmetic; the file
    says what happens through ``on_missing``.
    """

    code: str = Field(pattern=CODE_PATTERN)
    feature: str
    op: Literal["lt", "le", "gt", "ge"]
    value: float
    action: Action = "decline"
    on_missing: Literal["pass", "refer", "decline"] = "pass"
    description: str = Field(min_length=5)

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, v: str) -> str:
        if v not in FEATURE_NAMES:
            raise ValueError(f"unknown feature name {v!r}; known features: {', '.join(FEATURE_NAMES)}")
        return v


class AprBounds(_Strict):
    """The lender's published APR range in percent; every band's APR must fall inside it."""

    min: float = Field(gt=0)
    max: float = Field(le=60)

    @model_validator(mode="after")
    def _ordered(self) -> AprBounds:
        if self.min >= self.max:
            raise ValueError(f"bad APR range: min {self.min} must be below max {self.max}")
        return self


class PricingBand(_Strict):
    """Offer terms for applicants whose calibrated PD lies in [pd_min, pd_max)."""

    band: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,3}$")
    pd_min: float = Field(ge=0, le=1)
    pd_max: float = Field(gt=0, le=1)
    apr: float = Field(gt=0)
    max_income_multiple: float = Field(gt=0, le=60)
    max_amount: float = Field(gt=0)
    tenure_min_months: int = Field(ge=3, le=120)
    tenure_max_months: int = Field(ge=3, le=120)

    @model_validator(mode="after")
    def _ranges(self) -> PricingBand:
        if self.pd_min >= self.pd_max:
            raise ValueError(f"band {self.band}: pd_min {self.pd_min} must be below pd_max {self.pd_max}")
        if self.tenure_min_months > self.tenure_max_months:
            raise ValueError(
                f"band {self.band}: tenure_min_months {self.tenure_min_months} exceeds "
                f"tenure_max_months {self.tenure_max_months}"
            )
        return self


class PolicySpec(_Strict):
    """One lender's policy file."""

    lender_id: str = Field(pattern=r"^L\d{2}$")
    policy_version: str = Field(min_length=1, max_length=40)
    description: str = ""
    targets: Targets
    thin_file: ThinFileRule
    min_offer_amount: float = Field(gt=0)
    rules: list[HardRule] = Field(default_factory=list)
    apr_bounds: AprBounds
    pricing: list[PricingBand] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PolicySpec:
        codes = [r.code for r in self.rules] + [self.thin_file.code]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule codes: {', '.join(duplicates)}")
        if RESERVED_CODE in codes:
            raise ValueError(f"rule code {RESERVED_CODE} is reserved for the engine's minimum-offer check")
        bands = self.pricing
        names = [b.band for b in bands]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate pricing band names: {names}")
        if abs(bands[0].pd_min) > EDGE_TOLERANCE:
            raise ValueError(f"pricing bands must start at pd 0; band {bands[0].band} starts at {bands[0].pd_min}")
        if abs(bands[-1].pd_max - 1) > EDGE_TOLERANCE:
            raise ValueError(f"pricing bands must end at pd 1; band {bands[-1].band} ends at {bands[-1].pd_max}")
        for prev, nxt in pairwise(bands):
            if nxt.pd_min < prev.pd_max - EDGE_TOLERANCE:
                raise ValueError(
                    f"overlapping pricing bands: {prev.band} [{prev.pd_min}, {prev.pd_max}) and "
                    f"{nxt.band} [{nxt.pd_min}, {nxt.pd_max})"
                )
            if nxt.pd_min > prev.pd_max + EDGE_TOLERANCE:
                raise ValueError(
                    f"gap between pricing bands: {prev.band} ends at {prev.pd_max} but {nxt.band} starts at "
                    f"{nxt.pd_min}"
                )
            if nxt.apr < prev.apr:
                raise ValueError(
                    f"APR must not fall as risk rises: band {nxt.band} APR {nxt.apr} < band {prev.band} APR {prev.apr}"
                )
        for b in bands:
            if not self.apr_bounds.min <= b.apr <= self.apr_bounds.max:
                raise ValueError(
                    f"band {b.band} APR {b.apr} outside the lender's APR range "
                    f"[{self.apr_bounds.min}, {self.apr_bounds.max}]"
                )
        return self
