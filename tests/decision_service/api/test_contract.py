"""The API contract over real HTTP: decisions, idempotency, and one documented error shape for every error path.

Every bad request must get its documented status and code, in the one error shape, with the X-Request-ID header,
and must leave nothing in the decision log.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import httpx
import pytest

from tests.decision_service.api.conftest import VALID_BODY, ApiServer, body_for

ERROR_KEYS = {"status", "code", "message", "field", "request_id"}


def post(api: ApiServer, body: object, *, key: str | None = "P04", headers: dict | None = None,
         raw: bytes | None = None) -> httpx.Response:
    h = {"content-type": "application/json"}
    if key:
        h["X-API-Key"] = api.keys.get(key, key)
    h.update(headers or {})
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{api.url}/v1/decisions", content=content, headers=h, timeout=10)


def assert_error(resp: httpx.Response, status: int, code: str, field: str | None = "any") -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == ERROR_KEYS
    assert err["status"] == status and err["code"] == code
    assert err["request_id"] == resp.headers["x-request-id"]
    if field != "any":
        assert err["field"] == field
    return err


def test_decision_lists_every_lender_with_offers_and_reasons(api: ApiServer) -> None:
    resp = post(api, body_for(1))
    assert resp.status_code == 200, resp.text
    d = resp.json()
    assert d["request_id"] == resp.headers["x-request-id"]
    lenders = sorted([o["lender_id"] for o in d["offers"]] + [n["lender_id"] for n in d["not_matched"]])
    assert lenders == ["L03", "L04", "L05"]  # P04's eligible lenders, each exactly once
    for o in d["offers"]:
        assert o["offered_amount"] > 0 and o["emi"] > 0 and o["offered_apr"] > 0 and o["offered_tenure_months"] > 0
        assert o["lender_name"] and not o["fallback_used"] and o["model_version"]
    for n in d["not_matched"]:
        assert n["decision"] in ("refer", "decline") and 1 <= len(n["reason_codes"]) <= 4
    assert d["feature_source"] in ("live", "cache")
    assert {"bureau", "scoring", "log", "total"} <= set(d["timings_ms"])
    assert d["provenance"]["bureau_score"]["source"] == d["feature_source"]
    assert d["provenance"]["monthly_income"]["source"] == "request"


def test_second_decision_uses_cached_bureau_report(api: ApiServer) -> None:
    post(api, body_for(2))
    d = post(api, body_for(2)).json()
    assert d["feature_source"] == "cache" and d["provenance"]["bureau_score"]["age_s"] >= 0


def test_prefetch_warms_the_cache(api: ApiServer) -> None:
    r = httpx.post(f"{api.url}/v1/prefetch", json={"pan": "ZZZPQ4321Z"}, headers={"X-API-Key": api.keys["P01"]})
    assert r.status_code == 200 and r.json()["source"] == "live"
    body = copy.deepcopy(VALID_BODY)
    body["applicant"]["pan"] = "ZZZPQ4321Z"
    assert post(api, body, key="P01").json()["feature_source"] == "cache"


def test_idempotent_retry_returns_original_and_writes_once(api: ApiServer) -> None:
    body = body_for(3)
    first = post(api, body, headers={"Idempotency-Key": "idem-3"})
    again = post(api, body, headers={"Idempotency-Key": "idem-3"})
    assert first.status_code == again.status_code == 200
    a, b = first.json(), again.json()
    assert b["replayed"] is True and a["application_id"] == b["application_id"]
    assert [o["decision_id"] for o in a["offers"]] == [o["decision_id"] for o in b["offers"]]
    recs = [r for r in api.outbox_records() if r["application"]["application_id"] == a["application_id"]]
    assert len(recs) == 1
    conflict = post(api, body_for(4), headers={"Idempotency-Key": "idem-3"})
    assert_error(conflict, 409, "idempotency_conflict", "Idempotency-Key")


def _dob(years: int) -> str:
    today = dt.date.today()
    return today.replace(year=today.year - years).isoformat() if not (today.month == 2 and today.day == 29) else \
        today.replace(year=today.year - years, day=28).isoformat()


def _mutate(path: str, value: object) -> dict:
    body = copy.deepcopy(VALID_BODY)
    *parents, leaf = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return body


_DELETE = object()

BAD_BODIES = [
    ("bad PAN", _mutate("applicant.pan", "abcde1234f"), "applicant.pan"),
    ("PAN wrong shape", _mutate("applicant.pan", "ABCDE12345"), "applicant.pan"),
    ("negative amount", _mutate("application.requested_amount", -5), "application.requested_amount"),
    ("amount too large", _mutate("application.requested_amount", 9e9), "application.requested_amount"),
    ("tenure too long", _mutate("application.requested_tenure_months", 600), "application.requested_tenure_months"),
    ("income as string", _mutate("application.monthly_income", "85000"), "application.monthly_income"),
    ("tenure as float", _mutate("application.requested_tenure_months", 36.5), "application.requested_tenure_months"),
    ("unknown purpose", _mutate("application.purpose", "yacht"), "application.purpose"),
    ("missing field", _mutate("applicant.date_of_birth", _DELETE), "applicant.date_of_birth"),
    ("extra field", _mutate("applicant.nickname", "pri"), "applicant.nickname"),
    ("extra top-level field", _mutate("partner_id", "P01"), "partner_id"),
    ("too young", _mutate("applicant.date_of_birth", _dob(20)), "applicant.date_of_birth"),
    ("too old", _mutate("applicant.date_of_birth", _dob(66)), "applicant.date_of_birth"),
    ("bad date", _mutate("applicant.date_of_birth", "12/04/1990"), "applicant.date_of_birth"),
    ("bad pincode", _mutate("applicant.pincode", "01100"), "applicant.pincode"),
    ("body is a list", [1, 2], None),
    ("applicant is null", _mutate("applicant", None), "applicant"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_contract_violations_are_422_with_field(api: ApiServer, case: str, body: object, field: str | None) -> None:
    before = len(api.outbox_records())
    assert_error(post(api, body), 422, "validation_error", field)
    assert len(api.outbox_records()) == before


@pytest.mark.parametrize(
    ("case", "kwargs", "status", "code"),
    [
        ("malformed JSON", {"raw": b'{"applicant": '}, 400, "malformed_json"),
        ("not JSON at all", {"raw": b"hello"}, 400, "malformed_json"),
        ("unknown key", {"key": "ck_000000000000_nope"}, 401, "unauthenticated"),
        ("malformed key", {"key": "letmein"}, 401, "unauthenticated"),
        ("missing key", {"key": None}, 401, "unauthenticated"),
        ("huge body", {"raw": b'{"x": "' + b"a" * 200_000 + b'"}'}, 413, "payload_too_large"),
        ("wrong media type", {"headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
        ("bad idempotency key", {"headers": {"Idempotency-Key": "has spaces"}}, 422, "validation_error"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_rejected_requests_get_documented_errors(api: ApiServer, case: str, kwargs: dict, status: int,
                                                 code: str) -> None:
    before = len(api.outbox_records())
    assert_error(post(api, VALID_BODY, **kwargs), status, code)
    assert len(api.outbox_records()) == before


def test_chunked_huge_body_is_413(api: ApiServer) -> None:
    def chunks():
        for _ in range(50):
            yield b"a" * 1024

    r = httpx.post(f"{api.url}/v1/decisions", content=chunks(),
                   headers={"X-API-Key": api.keys["P04"], "content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/nope", 404, "not_found"),
    ("GET", "/v1/decisions", 405, "method_not_allowed"),
    ("DELETE", "/healthz", 405, "method_not_allowed"),
])
def test_routing_errors_share_the_shape(api: ApiServer, method: str, path: str, status: int, code: str) -> None:
    assert_error(httpx.request(method, f"{api.url}{path}"), status, code)


def test_prefetch_validation_uses_the_shape(api: ApiServer) -> None:
    r = httpx.post(f"{api.url}/v1/prefetch", json={"pan": "bad"}, headers={"X-API-Key": api.keys["P04"]})
    assert_error(r, 422, "validation_error", "pan")
    r = httpx.post(f"{api.url}/v1/prefetch", content=b"{", headers={"X-API-Key": api.keys["P04"],
                                                                     "content-type": "application/json"})
    assert_error(r, 400, "malformed_json")


def test_request_id_is_echoed_and_generated(api: ApiServer) -> None:
    r = httpx.get(f"{api.url}/healthz", headers={"X-Request-ID": "partner-req-0001"})
    assert r.headers["x-request-id"] == "partner-req-0001"
    assert len(httpx.get(f"{api.url}/healthz").headers["x-request-id"]) == 32


def test_openapi_documents_errors_with_examples(api: ApiServer) -> None:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    op = spec["paths"]["/v1/decisions"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DecisionRequest")
    for status in ("400", "401", "409", "413", "422", "429", "500"):
        assert op["responses"][status]["content"]["application/json"]["examples"], status
    assert "DecisionRequest" in spec["components"]["schemas"] and "ErrorResponse" in spec["components"]["schemas"]


def test_metrics_expose_stage_and_lender_latency(api: ApiServer) -> None:
    text = httpx.get(f"{api.url}/metrics").text
    for name in ("decision_stage_seconds_bucket", "decision_lender_seconds_bucket", "bureau_cache_total",
                 "bureau_breaker_state", "http_requests_total"):
        assert name in text, name
    assert 'decision_lender_seconds_count{lender_id="L04"}' in text
