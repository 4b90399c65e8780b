"""The rule a fuzz run checks, request by request, and the tally it keeps.

- No 5xx, except a deliberate 503 from the connection cap.
- Every error the application answers is in AWS's shape: a JSON object with `__type` and a
  message (`message` or `Message`, as the model's error shape names it), the same code in
  X-Amzn-ErrorType; STS's errors are its XML ErrorResponse with a Code and a Message. Only the HTTP
  parser itself may answer otherwise (its plain 400), and only to requests HTTP cannot carry.
- A request sent over a well-formed HTTP connection gets an answer.
- The stored state is unchanged by every refused request (status 4xx or no answer): the store's
  `PRAGMA data_version` tells, for a few microseconds, whether anything was committed since the
  last look; only then are all its tables read and compared.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.sender import Answer

EXAMPLES_PER_PROBLEM = 3
# The connection cap's refusal (issue 13, item 2) is the only 5xx a client may be given: it says
# so in its error code. Any other 503, like any other 5xx, is a failure.
CONNECTION_CAP_CODES = frozenset({"ServiceUnavailableException", "TooManyConnections"})


def problems(answer: Answer, method: str, transport: str, abusive: bool) -> list[str]:
    """What is wrong with one answer, by the rule above (empty when nothing). `abusive`: raw-HTTP
    abuse, which the HTTP parser may refuse itself."""
    if answer.status is None:
        return [] if transport == "raw" else [f"no answer ({answer.failure})"]
    found = []
    code = _error_code(answer)
    if answer.status >= 500 and not (answer.status == 503 and code in CONNECTION_CAP_CODES):
        found.append(f"HTTP {answer.status} {code or ''}".rstrip())
    if answer.status >= 400 and method.upper() != "HEAD":
        if _from_app(answer):
            found += _error_shape(answer)
        elif not abusive:
            found.append(f"HTTP {answer.status} not from the application: {answer.body[:80]!r}")
    elif 200 <= answer.status < 300 and method.upper() != "HEAD":
        try:
            if not isinstance(json.loads(answer.body or b"{}"), dict):
                found.append("success body is not a JSON object")
        except ValueError:
            found.append("success body is not JSON")
    return found


def _from_app(answer: Answer) -> bool:
    return "x-amzn-requestid" in answer.headers or "x-amzn-errortype" in answer.headers


def _error_code(answer: Answer) -> str | None:
    try:
        body = json.loads(answer.body)
    except ValueError:
        return answer.headers.get("x-amzn-errortype")
    return body.get("__type") if isinstance(body, dict) else None


def _error_shape(answer: Answer) -> list[str]:
    content_type = answer.headers.get("content-type", "")
    if content_type.startswith("text/xml"):
        text = answer.body.decode("utf-8", "replace")
        ok = "<ErrorResponse" in text and "<Code>" in text and "<Message>" in text
        return [] if ok else [f"STS error not in AWS's shape: {text[:100]!r}"]
    try:
        body = json.loads(answer.body)
    except ValueError:
        return [f"error body is not JSON: {answer.body[:100]!r}"]
    if not isinstance(body, dict):
        return ["error body is not a JSON object"]
    found = []
    code = body.get("__type")
    message = body.get("message", body.get("Message"))
    if not isinstance(code, str) or not code:
        found.append("error body without __type")
    if not isinstance(message, str) or not message:
        found.append(f"error {code} without a message")
    if answer.headers.get("x-amzn-errortype") not in (None, code):
        found.append(f"X-Amzn-ErrorType {answer.headers.get('x-amzn-errortype')} is not __type {code}")
    return found


# Tables the server's own timers write whatever the requests do (jobs/leases.py renews its leases,
# jobs/heartbeat.py its heartbeat): not state a request could change.
BOOKKEEPING = frozenset({"leases", "node_heartbeats"})


class StoreWatch:
    """The server's SQLite store, read-only, to prove refused requests changed nothing."""

    def __init__(self, database: Path) -> None:
        self.db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
        listed = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        self.tables = [name for (name,) in self.db.execute(listed) if name not in BOOKKEEPING]
        self.version = self._version()
        self.state = self.snapshot()

    def _version(self) -> int:
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {table: sorted(self.db.execute(f"SELECT * FROM {table}"), key=repr) for table in self.tables}

    def after(self, refused: bool) -> str | None:
        """After each request: what a refused one changed (None if nothing); an accepted one's
        changes become the new baseline."""
        version = self._version()
        if version == self.version:
            return None
        self.version = version
        before, self.state = self.state, self.snapshot()
        if not refused or before == self.state:
            return None
        changed = []
        for table in self.tables:
            now, then = set(self.state[table]), set(before[table])
            if now != then:
                changed.append(f"{table} (+{len(now - then)} -{len(then - now)} rows)")
        return "stored state changed by a refused request: " + ", ".join(changed)

    def close(self) -> None:
        self.db.close()


@dataclass
class Tally:
    """Status counts per operation, and the failures with a few examples each."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    seconds: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    failure_count: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)

    def record(
        self, name: str, answer: Answer, found: list[str], elapsed: float, example: dict[str, Any]
    ) -> None:
        self.total += 1
        self.counts[name][str(answer.status) if answer.status is not None else "closed"] += 1
        if answer.status is not None and answer.status >= 400:
            self.codes[name][f"{answer.status} {_error_code(answer)}"] += 1
        self.seconds[name] += elapsed
        for problem in found:
            self.failure_count += 1
            examples = self.failures.setdefault((name, _problem_key(problem)), [])
            if len(examples) < EXAMPLES_PER_PROBLEM:
                examples.append(
                    {"problem": problem, "answer": answer.body[:300].decode("utf-8", "replace"), **example}
                )

    def fail(self, name: str, problem: str, example: dict[str, Any] | None = None) -> None:
        """A failure not tied to one answer (the server died, a crypto key changed)."""
        self.failure_count += 1
        self.failures.setdefault((name, problem), []).append(example or {})

    def statuses(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for counter in self.counts.values():
            out.update(counter)
        return out

    def table(self) -> str:
        """Status counts per operation and in total, as a Markdown table."""
        statuses = sorted(self.statuses(), key=lambda s: (not s.isdigit(), s))
        lines = [
            "| operation | " + " | ".join(statuses) + " | total | ms/req |",
            "|---|" + "---:|" * (len(statuses) + 2),
        ]
        for name in sorted(self.counts):
            counter = self.counts[name]
            n = sum(counter.values())
            cells = " | ".join(f"{counter[s]:,}" if counter[s] else "" for s in statuses)
            lines.append(f"| {name} | {cells} | {n:,} | {self.seconds[name] / n * 1000:.1f} |")
        totals = self.statuses()
        cells = " | ".join(f"**{totals[s]:,}**" for s in statuses)
        lines.append(f"| **total** | {cells} | **{self.total:,}** | |")
        return "\n".join(lines)

    def codes_table(self, top: int = 6) -> str:
        """The commonest error answers per operation: how far past validation the requests got."""
        lines = ["| operation | commonest errors (status code: count) |", "|---|---|"]
        for name in sorted(self.codes):
            common = ", ".join(f"{code}: {n:,}" for code, n in self.codes[name].most_common(top))
            lines.append(f"| {name} | {common} |")
        return "\n".join(lines)

    def report(self) -> str:
        fives = sum(n for status, n in self.statuses().items() if status.startswith("5"))
        head = (
            f"{self.total:,} requests in {time.monotonic() - self.started:.1f} s; "
            f"{fives} x 5xx; {self.failure_count} rule failures"
        )
        parts = [head]
        for (name, problem), examples in sorted(self.failures.items()):
            parts.append(f"- {name}: {problem}")
            parts += [f"    {json.dumps(example, default=repr)[:1500]}" for example in examples]
        return "\n".join(parts)


def _problem_key(problem: str) -> str:
    """Failures grouped by kind, not by every distinct message."""
    return problem.split(":", 1)[0][:80]
