"""What the request pipeline records per call, at the least cost: one histogram observation, whose
child for (operation, status, code) is resolved once and kept, and a counter more on a
verification failure.

Cardinality is bounded here, whatever a request holds: an operation the models do not name is
counted as "unknown", a Reason outside the model's enum as "other", and past MAX_CODES distinct
error codes (there are a few dozen in the code) any new one as "other".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from paycrypt.metrics.families import Families

UNKNOWN = "unknown"  # an operation no model served names (App answers it before the pipeline)
OTHER = "other"
SUCCESS = "none"  # the code label of a call that succeeded
VERIFICATION_FAILED = "VerificationFailedException"
MAX_CODES = 64


class Failure(Protocol):
    """A ServiceError as the meter reads it."""

    code: str
    fields: Mapping[str, Any]


class Resolved(Protocol):
    """A key the pipeline resolved (service.identifiers.ResolvedKey): its record when it exists."""

    record: Any


class RequestMeter:
    def __init__(self, families: Families, operations: Iterable[str], reasons: Iterable[str]) -> None:
        """`operations`: every operation name of the models served; `reasons`: the model's
        VerificationFailedReason values."""
        self.families = families
        self.per_key = families.per_key
        self._operations = frozenset(operations)
        self._reasons = frozenset(reasons)
        self._codes: set[str] = set()
        self._children: dict[tuple[str, int, str], Any] = {}  # (operation, status, code) → histogram child
        self._failures: dict[tuple[str, str], Any] = {}  # (operation, reason) → counter child

    def observe(
        self,
        operation: str,
        status: int,
        error: Failure | None,
        seconds: float,
        keys: Mapping[str, Resolved] | None = None,
    ) -> None:
        """One call: its answer (`error` None on success) and how long it took. `keys`: what the
        request named, counted per key only with --metrics-per-key."""
        code = SUCCESS if error is None else error.code
        child = self._children.get((operation, status, code))
        if child is None:
            child = self._resolve(operation, status, code)
        child.observe(seconds)
        if error is not None and code == VERIFICATION_FAILED:
            self._verification_failed(operation, error)
        if self.per_key and keys:
            self._per_key(operation, code, error, keys)

    def _resolve(self, operation: str, status: int, code: str) -> Any:
        label_op = operation if operation in self._operations else UNKNOWN
        child = self.families.requests.labels(label_op, str(status), self._code(code))
        if len(self._children) < len(self._operations) * MAX_CODES:
            self._children[(operation, status, code)] = child
        return child

    def _code(self, code: str) -> str:
        if code in self._codes:
            return code
        if len(self._codes) >= MAX_CODES:
            return OTHER
        self._codes.add(code)
        return code

    def _reason(self, error: Failure) -> str:
        reason = error.fields.get("Reason")
        return reason if reason in self._reasons else OTHER

    def _verification_failed(self, operation: str, error: Failure) -> None:
        reason = self._reason(error)
        child = self._failures.get((operation, reason))
        if child is None:
            label_op = operation if operation in self._operations else UNKNOWN
            child = self._failures[(operation, reason)] = self.families.verification_failures.labels(
                label_op, reason
            )
        child.inc()

    def _per_key(
        self, operation: str, code: str, error: Failure | None, keys: Mapping[str, Resolved]
    ) -> None:
        """Each stored key the request named (a key that does not exist never becomes a label)."""
        label_op = operation if operation in self._operations else UNKNOWN
        label_code = self._code(code)
        reason = self._reason(error) if error is not None and code == VERIFICATION_FAILED else None
        for arn in {key.record.arn for key in keys.values() if key.record is not None}:
            self.families.key_requests.labels(arn, label_op, label_code).inc()
            if reason is not None:
                self.families.key_verification_failures.labels(arn, reason).inc()
