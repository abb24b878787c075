"""Decision execution: every lender eligible for the partner, in parallel, each within its own time budget.

For one application: the bureau report (cache or live, bounded by the bureau budget) and the applicant's history are
fetched concurrently; the features are built once; then every eligible lender is scored by its champion model and
its policy in a worker thread behind ``model_timeout_s``. A lender whose model times out, fails or is missing is
decided by the conservative rule-based fallback instead (``fallback_used``), and when the bureau is unavailable every
lender uses the fallback (``feature_source = 'fallback'``), so a partner always gets an answer in time.

Reason codes (TreeSHAP, the costly part) are computed only for lenders that refer or decline: approvals owe none.
The outcome is written to the outbox (fsync'd) before the caller answers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import orjson

from decision_service.bureau.client import BureauResult, BureauService, FeatureSource
from decision_service.observability import FEATURE_SOURCE, STAGE_SECONDS, TALLY
from decision_service.schemas import DecisionRequest
from decision_service.services.assembly import ApplicantDirectory, ApplicantInfo, now_ist, provenance, raw_inputs
from decision_service.services.ids import new_id
from decision_service.services.scoring import BatchScorer, LenderOutcome

log = logging.getLogger(__name__)

for _label in get_args(FeatureSource):  # every source and stage shows in /metrics from the start, at 0
    FEATURE_SOURCE.labels(_label)
for _label in ("bureau", "scoring", "log", "total"):
    STAGE_SECONDS.labels(_label)



@dataclass(frozen=True)
class Marketplace:
    """Lender names and which lenders each partner may route to (loaded once at start-up)."""

    lender_names: dict[str, str]
    partner_lenders: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, replica: Path | None) -> Marketplace:
        """From the warehouse replica when there is one, else from the world's marketplace definition."""
        if replica is not None and replica.exists():
            import duckdb

            con = duckdb.connect(str(replica), read_only=True)
            try:
                names = dict(con.execute("SELECT lender_id, name FROM lenders WHERE active").fetchall())
                pl: dict[str, list[str]] = {}
                for p, lender in con.execute(
                    "SELECT partner_id, lender_id FROM partner_lenders ORDER BY partner_id, lender_id"
                ).fetchall():
                    if lender in names:
                        pl.setdefault(p, []).append(lender)
            finally:
                con.close()
            if names and pl:
                return cls(names, {p: tuple(v) for p, v in pl.items()})
        from warehouse.world.entities import LENDERS, PARTNER_LENDERS

        names = {lender.lender_id: lender.name for lender in LENDERS if lender.active}
        return cls(names, {p: tuple(lid for lid in ls if lid in names) for p, ls in PARTNER_LENDERS.items()})


class DecisionOrchestrator:
    """One request end to end: bureau + history, features, lenders, outbox record, response body."""

    def __init__(self, bureau: BureauService, directory: ApplicantDirectory, scorer: BatchScorer,
                 marketplace: Marketplace, outbox: Any, lookup_timeout_s: float = 0.25,
                 deadline_s: float = 2.5) -> None:
        self.bureau = bureau
        self.directory = directory
        self.scorer = scorer
        self.marketplace = marketplace
        self.outbox = outbox
        self.lookup_timeout_s = lookup_timeout_s
        self.deadline_s = deadline_s

    async def _applicant(self, pan: str, received_at: Any) -> ApplicantInfo:
        hit = self.directory.cached(pan)
        if hit is not None:
            return hit
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.directory.lookup, pan, received_at),
                                          self.lookup_timeout_s)
        except TimeoutError:
            from decision_service.features import empty_history
            from decision_service.services.assembly import derived_applicant_id

            return ApplicantInfo(derived_applicant_id(pan), empty_history(1), "none")

    async def decide(self, req: DecisionRequest, partner_id: str, request_id: str, started: float,
                     idempotency: dict[str, Any] | None) -> bytes:
        """Decide, log durably, and return the JSON response body.

        The response is serialised once (orjson): the outbox record embeds those bytes as an ``orjson.Fragment`` and
        the body sent differs only by its last member, ``timings_ms``, which gains the ``log`` and ``total`` stages
        once the record is fsync'd (profiling showed the response and the record each serialised on the event loop).
        """
        timings: dict[str, float] = {}
        received_at = now_ist()
        pan = req.applicant.pan

        t = time.perf_counter()
        applicant = self.directory.cached(pan)
        if applicant is None:  # only a cold applicant pays for a second task running beside the bureau call
            bureau, applicant = await asyncio.gather(self.bureau.get(pan), self._applicant(pan, received_at))
        else:
            bureau = await self.bureau.get(pan)
        timings["bureau"] = (time.perf_counter() - t) * 1000
        TALLY.inc(FEATURE_SOURCE, bureau.source)

        t = time.perf_counter()
        app, bureau_cols, history = raw_inputs(req, bureau, applicant, received_at)
        lenders = self.marketplace.partner_lenders.get(partner_id, ())
        features, outcomes = await self.scorer.submit(app, bureau_cols, history, lenders, bureau.report is not None,
                                                      deadline=started + self.deadline_s)
        timings["scoring"] = (time.perf_counter() - t) * 1000  # features + every lender, batched with neighbours

        application_id = new_id("RA")
        decided_at = now_ist()
        total_ms = (time.perf_counter() - started) * 1000
        head = orjson.dumps(self._response(request_id, application_id, applicant.applicant_id, partner_id,
                                           decided_at, bureau, applicant, outcomes))[:-1] + b',"timings_ms":'
        logged = head + orjson.dumps({k: round(v, 3) for k, v in timings.items()}) + b"}"
        record = self._record(req, partner_id, request_id, application_id, applicant, bureau, received_at,
                              decided_at, outcomes, features, total_ms, logged, idempotency)
        t = time.perf_counter()
        await self.outbox.append(record)
        timings["log"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        for stage, ms in timings.items():
            TALLY.observe(STAGE_SECONDS, ms / 1000, stage)
        return head + orjson.dumps({k: round(v, 3) for k, v in timings.items()}) + b"}"

    def _response(self, request_id: str, application_id: str, applicant_id: str, partner_id: str, decided_at: Any,
                  bureau: BureauResult, applicant: ApplicantInfo, outcomes: list[LenderOutcome]) -> dict[str, Any]:
        """The response without ``timings_ms`` (appended as the last member by :meth:`decide`)."""
        names = self.marketplace.lender_names
        offers, not_matched = [], []
        for o in outcomes:
            common = {"lender_id": o.lender_id, "lender_name": names.get(o.lender_id, o.lender_id),
                      "decision_id": o.decision_id, "score": round(o.score, 6) if not math.isnan(o.score) else None,
                      "fallback_used": o.fallback_used}
            if o.decision == "approve":
                offers.append({**common, "offered_amount": o.offered_amount,
                               "offered_tenure_months": o.offered_tenure_months, "offered_apr": o.offered_apr,
                               "emi": o.emi, "model_version": o.model_version, "policy_version": o.policy_version})
            else:
                not_matched.append({**common, "decision": o.decision, "reason_codes": o.reason_codes})
        return {
            "request_id": request_id, "application_id": application_id, "applicant_id": applicant_id,
            "partner_id": partner_id, "decided_at": decided_at.isoformat(), "feature_source": bureau.source,
            "provenance": provenance(bureau, applicant), "offers": offers, "not_matched": not_matched,
            "replayed": False,
        }

    def _record(self, req: DecisionRequest, partner_id: str, request_id: str, application_id: str,
                applicant: ApplicantInfo, bureau: BureauResult, received_at: Any, decided_at: Any,
                outcomes: list[LenderOutcome], features: bytes, total_ms: float,
                response: bytes, idempotency: dict[str, Any] | None) -> dict[str, Any]:
        a, p = req.application, req.applicant
        applicant_row = {
            "applicant_id": applicant.applicant_id, "full_name": p.full_name, "pan": p.pan, "phone": p.phone,
            "email": p.email, "date_of_birth": p.date_of_birth.isoformat(), "gender": p.gender, "city": p.city,
            "state": p.state, "pincode": p.pincode,
        }
        application_row = {
            "application_id": application_id, "applicant_id": applicant.applicant_id, "partner_id": partner_id,
            "received_at": received_at.isoformat(), "requested_amount": a.requested_amount,
            "requested_tenure_months": a.requested_tenure_months, "purpose": a.purpose,
            "employment_type": a.employment_type, "monthly_income": a.monthly_income,
            "employer_tenure_months": a.employer_tenure_months, "existing_emi": a.existing_emi,
        }
        report_row = None
        if bureau.report is not None and bureau.source == "live":
            r = bureau.report
            report_row = {k: r.get(k) for k in (
                "report_id", "pulled_at", "bureau_score", "dpd30_count_12m", "dpd90_count_12m", "enquiries_90d",
                "utilisation_pct", "oldest_account_age_months", "secured_accounts", "unsecured_accounts",
                "total_outstanding", "thin_file", "report_format_version")}
            report_row.update(applicant_id=applicant.applicant_id, application_id=application_id)
        feats = orjson.Fragment(features)  # serialised once (scoring thread), shared by every lender's row
        rows = [{
            "decision_id": o.decision_id, "application_id": application_id, "partner_id": partner_id,
            "lender_id": o.lender_id, "request_id": request_id, "decided_at": decided_at.isoformat(),
            "decision": o.decision, "score": None if math.isnan(o.score) else o.score, "model_id": o.model_id,
            "model_version": o.model_version, "policy_version": o.policy_version, "reason_codes": o.reason_codes,
            "offered_amount": o.offered_amount, "offered_apr": o.offered_apr,
            "offered_tenure_months": o.offered_tenure_months, "emi": o.emi, "fallback_used": o.fallback_used,
            "feature_source": bureau.source, "latency_ms": round(total_ms, 3), "features": feats,
        } for o in outcomes]
        return {
            "v": 1, "request_id": request_id, "partner_id": partner_id, "applicant": applicant_row,
            "application": application_row, "bureau_report": report_row, "decisions": rows,
            "idempotency": idempotency, "response": orjson.Fragment(response),
        }
