"""Request and response contracts of the decision API (kept apart from the domain objects).

The request models are strict: unknown fields are rejected, numbers are bounded, formats (PAN, PIN code, phone) are
checked and the applicant's age must be between 21 and 65 on the day of the request. A partner sees a precise,
documented error for each violation instead of a silently clipped value.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PAN_PATTERN = r"^[A-Z]{5}[0-9]{4}[A-Z]$"
MIN_AGE_YEARS = 21
MAX_AGE_YEARS = 65

Purpose = Literal[
    "personal", "medical", "education", "travel", "wedding", "home_improvement", "debt_consolidation",
    "consumer_durables",
]
EmploymentType = Literal["salaried", "self_employed"]
Pan = Annotated[str, Field(pattern=PAN_PATTERN, description="Permanent Account Number, e.g. ABCDE1234F.")]

_STRICT = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)


def age_on(dob: dt.date, today: dt.date) -> int:
    """Completed years between ``dob`` and ``today`` (the legal age, not a 365-day approximation)."""
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


class ApplicantIn(BaseModel):
    """The person applying. PII: stored in the warehouse's applicants table, masked for analysts."""

    model_config = _STRICT

    full_name: str = Field(min_length=2, max_length=100, examples=["Priya Sharma"])
    pan: Pan = Field(examples=["ABCPS1234K"])
    phone: str = Field(pattern=r"^[6-9][0-9]{9}$", examples=["9876543210"])
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,180}\.[A-Za-z]{2,24}$", max_length=254,
                       examples=["priya.sharma@gmail.com"])
    date_of_birth: dt.date = Field(description="Age must be 21 to 65 on the day of the request.",
                                   examples=["1990-04-12"])
    gender: Literal["male", "female", "other"] = Field(examples=["female"])
    city: str = Field(min_length=2, max_length=60, examples=["Pune"])
    state: str = Field(min_length=2, max_length=60, examples=["Maharashtra"])
    pincode: str = Field(pattern=r"^[1-9][0-9]{5}$", examples=["411001"])

    @field_validator("date_of_birth")
    @classmethod
    def _age_in_range(cls, dob: dt.date) -> dt.date:
        age = age_on(dob, dt.date.today())
        if not MIN_AGE_YEARS <= age <= MAX_AGE_YEARS:
            raise ValueError(f"applicant must be {MIN_AGE_YEARS} to {MAX_AGE_YEARS} years old (is {age})")
        return dob


class ApplicationIn(BaseModel):
    """The loan asked for and the applicant's declared income and obligations."""

    model_config = _STRICT

    requested_amount: float = Field(ge=10_000, le=5_000_000, description="Loan amount in INR.", examples=[300_000])
    requested_tenure_months: int = Field(ge=6, le=84, examples=[36])
    purpose: Purpose = Field(examples=["personal"])
    employment_type: EmploymentType = Field(examples=["salaried"])
    monthly_income: float = Field(ge=10_000, le=10_000_000, description="Declared monthly income in INR.",
                                  examples=[85_000])
    employer_tenure_months: int = Field(ge=0, le=600, examples=[40])
    existing_emi: float = Field(ge=0, le=5_000_000, description="EMI already paid on other loans (INR).",
                                examples=[6_500])


class DecisionRequest(BaseModel):
    """One loan application from a partner; the partner is identified by its API key, never by the body."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "partner_reference": "lead-000123",
                    "applicant": {
                        "full_name": "Priya Sharma", "pan": "ABCPS1234K", "phone": "9876543210",
                        "email": "priya.sharma@gmail.com", "date_of_birth": "1990-04-12", "gender": "female",
                        "city": "Pune", "state": "Maharashtra", "pincode": "411001",
                    },
                    "application": {
                        "requested_amount": 300000, "requested_tenure_months": 36, "purpose": "personal",
                        "employment_type": "salaried", "monthly_income": 85000, "employer_tenure_months": 40,
                        "existing_emi": 6500,
                    },
                }
            ]
        },
    )

    partner_reference: str | None = Field(default=None, max_length=64, description="The partner's own lead id.")
    applicant: ApplicantIn
    application: ApplicationIn


class PrefetchRequest(BaseModel):
    """Warm the bureau cache when a user opens the partner's app, before the application is submitted."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"pan": "ABCPS1234K"}]})

    pan: Pan


class Offer(BaseModel):
    """An approved offer from one lender."""

    lender_id: str
    lender_name: str
    decision_id: str
    offered_amount: float
    offered_tenure_months: int
    offered_apr: float
    emi: float
    score: float
    model_version: str | None
    policy_version: str | None
    fallback_used: bool


class NotMatched(BaseModel):
    """A lender that did not make an offer (decline, or refer for manual review), with its reasons."""

    lender_id: str
    lender_name: str
    decision_id: str
    decision: Literal["refer", "decline"]
    reason_codes: list[str]
    score: float
    fallback_used: bool


class Provenance(BaseModel):
    """Where a group of features came from and how old it was when the decision used it."""

    source: Literal["request", "cache", "live", "fallback", "warehouse", "none"]
    age_s: float | None


class DecisionResponse(BaseModel):
    """Every offer and every non-matching lender for one application, with provenance and stage timings."""

    request_id: str
    application_id: str
    applicant_id: str
    partner_id: str
    decided_at: dt.datetime
    feature_source: Literal["cache", "live", "fallback"]
    provenance: dict[str, Provenance] = Field(description="Per feature name: its source and age in seconds.")
    offers: list[Offer]
    not_matched: list[NotMatched]
    timings_ms: dict[str, float] = Field(description="Milliseconds per stage (bureau, scoring, log, total).")
    replayed: bool = Field(description="True when this is the stored answer to a repeated Idempotency-Key.")


class PrefetchResponse(BaseModel):
    """Result of a cache warm-up."""

    cached: bool
    source: Literal["cache", "live", "fallback"]
    age_s: float | None


class ErrorBody(BaseModel):
    """The one error shape of every HTTP API of the product."""

    status: int = Field(examples=[422])
    code: str = Field(examples=["validation_error"])
    message: str = Field(examples=["String should match pattern '^[A-Z]{5}[0-9]{4}[A-Z]$'"])
    field: str | None = Field(examples=["applicant.pan"])
    request_id: str = Field(examples=["9f1c2b8e4d3a4f6e8a7b6c5d4e3f2a1b"])


class ErrorResponse(BaseModel):
    """Envelope of every error response."""

    error: ErrorBody
