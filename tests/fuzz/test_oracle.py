"""The fuzz rule can fail: each kind of wrong answer, and a refused request that changed the store,
is caught; the answers AWS would give are not."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fuzz.oracle import StoreWatch, problems
from tests.fuzz.sender import Answer

APP = {"x-amzn-requestid": "r", "content-type": "application/x-amz-json-1.0"}


def _error(status: int, body: object, **headers: str) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, {**APP, **headers}, raw)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (_error(500, {"__type": "InternalServerException", "Message": "x"}), "HTTP 500"),
        (_error(501, {"__type": "NotImplemented", "message": "x"}), "HTTP 501"),
        (_error(503, {"__type": "ThrottlingException", "message": "x"}), "HTTP 503"),
        (_error(400, {"message": "no code"}), "without __type"),
        (_error(400, {"__type": "ValidationException"}), "without a message"),
        (_error(400, {"__type": "ValidationException", "message": ""}), "without a message"),
        (_error(400, b"<html>Bad</html>"), "not JSON"),
        (_error(400, [1]), "not a JSON object"),
        (_error(400, {"__type": "A", "message": "m"}, **{"x-amzn-errortype": "B"}), "X-Amzn-ErrorType"),
        (
            _error(400, b"<ErrorResponse><Error></Error></ErrorResponse>", **{"content-type": "text/xml"}),
            "STS",
        ),
        (
            Answer(400, {"content-type": "text/plain"}, b"Invalid HTTP request received."),
            "not from the application",
        ),
        (Answer(200, APP, b"not json"), "not JSON"),
        (Answer(200, APP, b"[]"), "not a JSON object"),
        (Answer(None, failure="ConnectionResetError"), "no answer"),
    ],
)
def test_a_wrong_answer_is_caught(answer: Answer, fragment: str) -> None:
    found = problems(answer, "POST", "http", abusive=False)
    assert any(fragment in problem for problem in found), found


@pytest.mark.parametrize(
    ("answer", "transport", "abusive"),
    [
        (_error(400, {"__type": "ValidationException", "message": "m"}), "http", False),
        (_error(404, {"__type": "ResourceNotFoundException", "Message": "m"}), "http", False),
        (
            _error(503, {"__type": "ServiceUnavailableException", "message": "too many connections"}),
            "http",
            False,
        ),
        (Answer(200, APP, b"{}"), "http", False),
        (
            _error(
                400,
                b"<ErrorResponse><Error><Code>C</Code><Message>M</Message></Error></ErrorResponse>",
                **{"content-type": "text/xml"},
            ),
            "http",
            False,
        ),
        (Answer(400, {"content-type": "text/plain"}, b"Invalid HTTP request received."), "raw", True),
        (Answer(None, failure="closed"), "raw", True),
    ],
)
def test_a_right_answer_passes(answer: Answer, transport: str, abusive: bool) -> None:
    assert problems(answer, "POST", transport, abusive) == []


def test_a_refused_request_that_changed_the_store_is_caught(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE keys (arn TEXT PRIMARY KEY, state TEXT)")
    writer.execute("INSERT INTO keys VALUES ('k1', 'CREATE_COMPLETE')")
    watch = StoreWatch(database)
    assert watch.after(refused=True) is None  # nothing committed

    writer.execute("UPDATE keys SET state = 'DELETE_PENDING'")
    assert watch.after(refused=False) is None  # an accepted request's change is the new baseline

    writer.execute("UPDATE keys SET state = 'DELETE_PENDING'")  # a commit that changes nothing
    assert watch.after(refused=True) is None

    writer.execute("INSERT INTO keys VALUES ('k2', 'CREATE_COMPLETE')")
    found = watch.after(refused=True)
    assert found is not None and "keys (+1 -0 rows)" in found
    watch.close()
    writer.close()
