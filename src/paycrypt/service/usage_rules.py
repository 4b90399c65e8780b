"""Which keys each data-plane operation (and union member) accepts: one table.

A key is usable when it is CREATE_COMPLETE and enabled; then its KeyUsage, KeyAlgorithm and
KeyModesOfUse must fit the rule for the operation and the member chosen. A key with
NoRestrictions passes any mode check. Later operations add their rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paycrypt.errors import ValidationError
from paycrypt.service.key_rules import TDES
from paycrypt.store.records import KeyRecord

C0 = "TR31_C0_CARD_VERIFICATION_KEY"


@dataclass(frozen=True)
class KeyRule:
    usages: frozenset[str]
    algorithms: frozenset[str]
    modes: frozenset[str]  # the key needs one of these (or NoRestrictions)


def _rule(usages: set[str], algorithms: frozenset[str], modes: set[str]) -> KeyRule:
    return KeyRule(frozenset(usages), algorithms, frozenset(modes))


# (operation, union member or "", key role) -> rule. The role names the input member that
# identifies the key ("KeyIdentifier" for single-key operations; e.g. "EncryptionKeyIdentifier",
# "IncomingKeyIdentifier" where an operation uses several keys).
RULES: dict[tuple[str, str, str], KeyRule] = {
    ("GenerateCardValidationData", "CardVerificationValue1", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Generate"}
    ),
    ("GenerateCardValidationData", "CardVerificationValue2", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Generate"}
    ),
    ("VerifyCardValidationData", "CardVerificationValue1", "KeyIdentifier"): _rule({C0}, TDES, {"Verify"}),
    ("VerifyCardValidationData", "CardVerificationValue2", "KeyIdentifier"): _rule({C0}, TDES, {"Verify"}),
}


def check_usable(record: KeyRecord) -> None:
    if record.key_state != "CREATE_COMPLETE":
        raise ValidationError(f"Key {record.arn} cannot be used: KeyState is {record.key_state}.")
    if not record.enabled:
        raise ValidationError(f"Key {record.arn} cannot be used: it is disabled (Enabled is false).")


def check_key(operation: str, member: str, record: KeyRecord, role: str = "KeyIdentifier") -> None:
    """Raise ValidationException naming the stored key's attribute that does not fit the operation."""
    check_usable(record)
    check_attributes(operation, member, role, record.key_attributes, f"Key {record.arn}")


def check_attributes(operation: str, member: str, role: str, attributes: dict[str, Any], label: str) -> None:
    """The same check for a key that is not stored (a dynamic key unwrapped for one request)."""
    rule = RULES[(operation, member, role)]
    doing = f"{operation} with {member}" if member else operation
    if role != "KeyIdentifier":
        doing += f" ({role})"
    if attributes["KeyUsage"] not in rule.usages:
        raise ValidationError(
            f"{label} has KeyUsage {attributes['KeyUsage']}; {doing} requires "
            f"{' or '.join(sorted(rule.usages))}."
        )
    if attributes["KeyAlgorithm"] not in rule.algorithms:
        raise ValidationError(
            f"{label} has KeyAlgorithm {attributes['KeyAlgorithm']}; {doing} requires "
            f"{' or '.join(sorted(rule.algorithms))}."
        )
    modes = attributes["KeyModesOfUse"]
    if not modes.get("NoRestrictions") and not any(modes.get(mode) for mode in rule.modes):
        raise ValidationError(
            f"{label} KeyModesOfUse does not allow {doing}; it requires "
            f"{' or '.join(sorted(rule.modes))} (or NoRestrictions)."
        )
