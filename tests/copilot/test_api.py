"""The HTTP API over real HTTP (uvicorn in a thread on a free loopback port)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from copilot.api import create_app
from copilot.pipeline import Copilot


@pytest.fixture
def api(small_world, settings) -> Iterator[str]:
    s = settings.model_copy(update={"api_tokens": {"tok-growth": "growth", "tok-risk": "risk"}})
    copilot = Copilot(s, replica=small_world.replica, use_retrieval=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(copilot, s), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    copilot.close()


def test_ask(api: str) -> None:
    r = httpx.post(f"{api}/v1/ask", json={"question": "number of applications by purpose"},
                   headers={"Authorization": "Bearer tok-growth", "X-Request-ID": "abc"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["team"] == "growth" and body["columns"] == ["purpose", "application_count"]
    assert body["rows"] and body["caption"] and body["request_id"] == "abc" and body["chart"]


@pytest.mark.parametrize(
    ("headers", "payload", "status", "code", "field"),
    [
        ({}, {"question": "approval rate"}, 401, "unauthorized", "Authorization"),
        ({"Authorization": "Bearer nope"}, {"question": "approval rate"}, 401, "unauthorized", "Authorization"),
        ({"Authorization": "Bearer tok-growth"}, {"question": "approval rate", "team": "risk"}, 403, "forbidden",
         "team"),
        ({"Authorization": "Bearer tok-growth"}, {"question": "  "}, 422, "empty_question", "question"),
        ({"Authorization": "Bearer tok-growth"}, {"question": "x" * 3000}, 422, "question_too_long", "question"),
        ({"Authorization": "Bearer tok-growth"}, {}, 422, "invalid_request", "question"),
        ({"Authorization": "Bearer tok-growth"}, {"question": "q", "backend": "gpt9"}, 422, "invalid_request",
         "backend"),
    ],
)
def test_errors_share_the_decision_api_shape(api: str, headers: dict, payload: dict, status: int, code: str,
                                             field: str) -> None:
    r = httpx.post(f"{api}/v1/ask", json=payload, headers=headers, timeout=60)
    assert r.status_code == status
    error = r.json()["error"]
    assert (error["status"], error["code"], error["field"]) == (status, code, field)
    assert error["message"] and error["request_id"] == r.headers["X-Request-ID"]


def test_cannot_answer_is_200_with_reason(api: str) -> None:
    r = httpx.post(f"{api}/v1/ask", json={"question": "what is the weather in Mumbai"},
                   headers={"Authorization": "Bearer tok-risk"}, timeout=60)
    assert r.status_code == 200 and r.json()["cannot_answer"] is True and r.json()["reason"]
    assert r.json()["sql"] is None


def test_feedback(api: str) -> None:
    auth = {"Authorization": "Bearer tok-growth"}
    sql = "SELECT purpose, count(*) AS n FROM applications GROUP BY 1"
    ok = httpx.post(f"{api}/v1/feedback", json={"question": "applications by purpose", "sql": sql,
                                                 "action": "accept"}, headers=auth, timeout=60)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "verified"
    fixed = httpx.post(f"{api}/v1/feedback", json={"question": "applications by purpose", "sql": sql,
                                                    "action": "correct", "corrected_sql": sql + " ORDER BY n DESC"},
                       headers=auth, timeout=60)
    assert fixed.status_code == 200 and fixed.json()["status"] == "candidate" and fixed.json()["rows"]
    bad = httpx.post(f"{api}/v1/feedback", json={"question": "q", "sql": "DELETE FROM applications",
                                                  "action": "accept"}, headers=auth, timeout=60)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "feedback_rejected"
