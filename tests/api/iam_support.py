"""A paycrypt server with several accounts and principals, for the identity and access tests.

`iam_server` (the `iam` fixture of tests/api/conftest.py) writes a credentials file (through
`IamFile`, the format `paycrypt iam` writes) with the principals of `PRINCIPALS`, each with its
identity policies, and serves it in a thread (tests/conftest.py's `serving`). The policies are
the guide's examples (seed-F §1.8, normalized JSON), verbatim where the request they are tested
with can be made, and a few written for one condition operator each.

Keys with a chosen id (`create_key_with_id`) let a policy name a key before it exists, as the
guide's examples name `kwapwa6qaif1lw2h`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from paycrypt.auth.iam_file import AccessKey, IamFile, PolicyEntry, PrincipalEntry
from paycrypt.server import Assembly, Settings
from paycrypt.service import identifiers
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port, serving

A, B, C = "111122223333", "444455556666", "777788889999"
KEY = "arn:aws:payment-cryptography:{region}:{account}:key/{key_id}"
CVK = CVK_ATTRIBUTES
D0 = {
    "KeyAlgorithm": "TDES_3KEY",
    "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
}
PAN = "4111111111111111"  # the Visa test PAN; the audit scan looks for it
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}

# Chosen key ids (16 to 64 letters and digits, the model's pattern).
P3_KEY = "kwapwa6qaif1lw2h"  # the guide's P-3 key (us-east-2)
P4_DENIED = "kwapwa6qaiFlw2h0"  # the guide's P-4 id is 15 characters, which the model refuses: one added
RESERVED_KEY = "reservedkey00001"
MULTI_A, MULTI_B = "multikeyaaaaaaaa", "multikeybbbbbbbb"
KEK_GOOD, KEK_OTHER = "kekgoodkekgood01", "kekotherkekother"


def statement(
    effect: str, action: Any, resource: Any = "*", condition: dict | None = None, **extra: Any
) -> dict:
    found: dict[str, Any] = {"Effect": effect, **extra}
    if "NotAction" not in extra:
        found["Action"] = action
    if "NotResource" not in extra:
        found["Resource"] = resource
    if condition:
        found["Condition"] = condition
    return found


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", condition: dict | None = None) -> dict:
    return policy(statement("Allow", action, resource, condition))


PC = "payment-cryptography:"
ALL_KEYS = f"arn:aws:payment-cryptography:*:{A}:key/*"

# --- the guide's examples (seed-F §1.8, normalized) --------------------------------------------------
P2 = policy(statement("Allow", [PC + "*"], ["*"]))
P3 = policy(
    statement(
        "Allow",
        [PC + "VerifyCardValidationData", PC + "GenerateCardValidationData"],
        [f"arn:aws:payment-cryptography:us-east-2:{A}:key/{P3_KEY}"],
    )
)
P4 = policy(
    statement(
        "Allow",
        [PC + "VerifyCardValidationData", PC + "GenerateCardValidationData"],
        [f"arn:aws:payment-cryptography:us-east-2:{A}:key/*"],
    ),
    statement(
        "Deny",
        [PC + "GenerateCardValidationData"],
        [f"arn:aws:payment-cryptography:us-east-2:{A}:key/{P4_DENIED}"],
    ),
)
T2 = policy(
    statement("Allow", PC + "CreateKey", "*", Sid="IAMPolicyCreateKeys"),
    statement(
        "Allow",
        [PC + "TagResource", PC + "UntagResource", PC + "ListTagsForResource"],
        ALL_KEYS,
        Sid="IAMPolicyTags",
    ),
)
T3 = policy(
    statement("Allow", PC + "CreateKey", "*", Sid="IAMPolicyCreateKey"),
    statement("Allow", PC + "ListTagsForResource", ALL_KEYS, Sid="IAMPolicyViewAllTags"),
    statement(
        "Allow",
        [PC + "TagResource", PC + "UntagResource"],
        ALL_KEYS,
        {"ForAllValues:StringEquals": {"aws:TagKeys": "Project"}},
        Sid="IAMPolicyManageTags",
    ),
)
T4 = policy(
    statement(
        "Allow",
        [PC + "DecryptData"],
        f"arn:aws:payment-cryptography:us-east-1:{A}:key/*",
        {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        Sid="IAMPolicyWithResourceTag",
    )
)
_CRYPTO = [PC + "EncryptData", PC + "DecryptData", PC + "ReEncrypt*"]


def t5(no_tag_resource: str) -> dict:
    return policy(
        statement("Allow", _CRYPTO, ALL_KEYS, Sid="IAMAllowCryptographicOperations"),
        statement(
            "Deny",
            _CRYPTO,
            ALL_KEYS,
            {"StringEquals": {"aws:ResourceTag/Type": "Reserved"}},
            Sid="IAMDenyOnTag",
        ),
        statement(
            "Deny", _CRYPTO, no_tag_resource, {"Null": {"aws:ResourceTag/Type": "true"}}, Sid="IAMDenyNoTag"
        ),
    )


T5 = t5(f"arn:aws:kms:*:{A}:key/*")  # verbatim: the guide's KMS ARN (seed-F §7.3 item 7)
T5_FIXED = t5(ALL_KEYS)  # the ARN the prose means (issue 8: case 16 with the corrected ARN is Deny)

# --- one condition operator (or element) each ---------------------------------------------------------
GET = PC + "GetKey"
OPERATORS: dict[str, dict] = {
    "op-string-not-equals": allow(GET, ALL_KEYS, {"StringNotEquals": {"aws:ResourceTag/Env": "prod"}}),
    "op-string-like": allow(GET, ALL_KEYS, {"StringLike": {"aws:ResourceTag/Team": "pay*"}}),
    "op-string-not-like": allow(GET, ALL_KEYS, {"StringNotLike": {"aws:ResourceTag/Team": "pay*"}}),
    "op-ignore-case": allow(GET, ALL_KEYS, {"StringEqualsIgnoreCase": {"aws:ResourceTag/Project": "alpha"}}),
    "op-arn-like": allow(
        PC + "ListKeys", "*", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:user/op-arn-*"}}
    ),
    "op-arn-equals": allow(
        PC + "ListKeys", "*", {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A}:user/other"}}
    ),
    "op-bool": allow(PC + "ListKeys", "*", {"Bool": {"aws:SecureTransport": "false"}}),
    "op-bool-tls": allow(PC + "ListKeys", "*", {"Bool": {"aws:SecureTransport": "true"}}),
    "op-null": allow(GET, ALL_KEYS, {"Null": {"aws:ResourceTag/Owner": "true"}}),
    "op-numeric": allow(PC + "ListKeys", "*", {"NumericGreaterThan": {"aws:EpochTime": "1600000000"}}),
    "op-numeric-past": allow(PC + "ListKeys", "*", {"NumericLessThan": {"aws:EpochTime": "1600000000"}}),
    "op-date": allow(
        PC + "ListAliases", "*", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    ),
    "op-date-past": allow(
        PC + "ListAliases", "*", {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    ),
    "op-ip": allow(PC + "ListKeys", "*", {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
    "op-not-ip": allow(PC + "ListKeys", "*", {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
    "op-if-exists": allow(GET, ALL_KEYS, {"StringEqualsIfExists": {"aws:ResourceTag/Env": "test"}}),
    "op-for-any-value": allow(
        GET, ALL_KEYS, {"ForAnyValue:StringLike": {"payment-cryptography:ResourceAliases": "alias/team-a-*"}}
    ),
    "op-principal-account": allow(PC + "ListKeys", "*", {"StringEquals": {"aws:PrincipalAccount": A}}),
    "op-request-alias": allow(
        PC + "GenerateCardValidationData",
        ALL_KEYS,
        {"StringEquals": {"payment-cryptography:RequestAlias": "alias/team-a-cvk"}},
    ),
    "op-key-usage": allow(
        PC + "CreateKey",
        "*",
        {
            "StringEquals": {
                "payment-cryptography:KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                "payment-cryptography:KeyAlgorithm": "TDES_2KEY",
            }
        },
    ),
    # Policy variables: keys tagged Owner=<the caller's user name>, aliases named after the caller
    # (GetAlias is decided on the alias and on its key: the SAR lists alias* and key*).
    "alice": policy(
        statement(
            "Allow",
            [GET, PC + "GenerateCardValidationData", PC + "GetAlias"],
            ALL_KEYS,
            {"StringEquals": {"aws:ResourceTag/Owner": "${aws:username}"}},
        ),
        statement("Allow", PC + "GetAlias", f"arn:aws:payment-cryptography:*:{A}:alias/${{aws:username}}-*"),
    ),
    "notaction": policy(statement("Allow", None, "*", NotAction=[PC + "Delete*", PC + "Export*"])),
    "notresource": policy(
        statement(
            "Allow",
            PC + "GenerateCardValidationData",
            None,
            NotResource=f"arn:aws:payment-cryptography:*:{A}:key/reserved*",
        )
    ),
    # Multi-key operations: allowed only if allowed on every key named.
    "reencrypt-one": allow(PC + "ReEncryptData", KEY.format(region=REGION, account=A, key_id=MULTI_A)),
    "reencrypt-both": allow(
        PC + "ReEncryptData",
        [KEY.format(region=REGION, account=A, key_id=k) for k in (MULTI_A, MULTI_B)],
    ),
    "exporter": allow(
        PC + "ExportKey",
        ALL_KEYS,
        {
            "ArnEquals": {
                "payment-cryptography:WrappingKeyIdentifier": KEY.format(
                    region=REGION, account=A, key_id=KEK_GOOD
                )
            },
            "StringEquals": {"payment-cryptography:ExportKeyMaterial": "Tr31KeyBlock"},
        },
    ),
    # Explicit deny over a wildcard allow.
    "deny-delete": policy(statement("Allow", PC + "*", "*"), statement("Deny", PC + "Delete*", "*")),
    # Tag-based access (issue 8): only keys tagged Project=X, and the Project tag is not theirs to change.
    "projx": policy(
        statement(
            "Allow",
            [
                GET,
                PC + "GenerateCardValidationData",
                PC + "VerifyCardValidationData",
                PC + "TagResource",
                PC + "UntagResource",
            ],
            ALL_KEYS,
            {"StringEquals": {"aws:ResourceTag/Project": "X"}},
        ),
        statement(
            "Deny",
            [PC + "TagResource", PC + "UntagResource"],
            "*",
            {"ForAnyValue:StringEquals": {"aws:TagKeys": "Project"}},
        ),
    ),
    # ... and one who may create Project=X keys and set Project only to X.
    "projx-admin": policy(
        statement(
            "Allow",
            [PC + "CreateKey", PC + "TagResource"],
            "*",
            {"StringEquals": {"aws:RequestTag/Project": "X"}},
        ),
        statement(
            "Allow",
            PC + "TagResource",
            ALL_KEYS,
            {"StringEquals": {"aws:RequestTag/Project": "X"}},
        ),
    ),
}


@dataclass(frozen=True)
class Who:
    kind: str  # user | role
    account: str
    name: str
    policies: tuple[dict, ...] = ()
    root: bool = False
    session: str = "paycrypt"

    @property
    def access_key(self) -> str:
        label = ("ROOT" if self.root else self.name).upper().replace("-", "")
        return f"AKIA{self.account[:4]}{label}"[:32]

    @property
    def secret(self) -> str:
        return f"{self.account}-{'root' if self.root else self.name}-secret-Xq7v"

    @property
    def arn(self) -> str:
        if self.root:
            return f"arn:aws:iam::{self.account}:root"
        if self.kind == "role":
            return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{self.session}"
        return f"arn:aws:iam::{self.account}:user/{self.name}"


PRINCIPALS: dict[str, Who] = {
    "root": Who("user", A, "root", root=True),
    "p2": Who("user", A, "p2", (P2,)),
    "p3": Who("user", A, "p3", (P3,)),
    "p4": Who("user", A, "p4", (P4,)),
    "t2": Who("user", A, "t2", (T2,)),
    "t3": Who("user", A, "t3", (T3,)),
    "t4": Who("user", A, "t4", (T4,)),
    "t5": Who("user", A, "t5", (T5,)),
    "t5-fixed": Who("user", A, "t5-fixed", (T5_FIXED,)),
    "nopolicy": Who("user", A, "nopolicy"),
    "operator": Who(
        "role",
        A,
        "Operator",
        (  # aws:PrincipalArn of a role session is the role's ARN
            allow(GET, ALL_KEYS, {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/Operator"}}),
        ),
        session="night-shift",
    ),
    **{name: Who("user", A, name, (document,)) for name, document in OPERATORS.items()},
    "bob": Who("user", A, "bob", (OPERATORS["alice"],)),
    "b-root": Who("user", B, "root", root=True),
    "partner": Who("user", B, "partner", (P2,)),
    "partner-nopolicy": Who("user", B, "partner-nopolicy"),
    # Issue 12 item 8: allowed GenerateCardValidationData on "*" by its own account, nothing else.
    "partner-cvv": Who("user", B, "partner-cvv", (allow(PC + "GenerateCardValidationData"),)),
    "partner-role": Who("role", B, "PartnerRole", (P2,)),
    "stranger": Who("user", C, "stranger", (P2,)),
}


def credentials_file(path: Path, principals: dict[str, Who]) -> Path:
    document = IamFile()
    for who in principals.values():
        document.principals.append(
            PrincipalEntry(
                who.kind,
                who.account,
                who.name,
                root=who.root,
                session_name=who.session,
                access_keys=[AccessKey(who.access_key, who.secret)],
                policies=[PolicyEntry(f"p{i}", document=json.dumps(p)) for i, p in enumerate(who.policies)],
            )
        )
    document.save(path)
    return path


@dataclass
class IamServer:
    endpoint: str
    parts: Assembly
    data_dir: Path
    principals: dict[str, Who]
    clients: dict[tuple[str, str, str, int], Any] = field(default_factory=dict)

    def client(
        self, who: str, service: str = "payment-cryptography", region: str = REGION, attempts: int = 1
    ) -> Any:
        slot = (who, service, region, attempts)
        if slot not in self.clients:
            principal = self.principals[who]
            session = aws_session(principal.access_key, principal.secret, region)
            config = Config(retries={"total_max_attempts": attempts, "mode": "standard"})
            self.clients[slot] = session.client(service, endpoint_url=self.endpoint, config=config)
        return self.clients[slot]

    def data(self, who: str, region: str = REGION, attempts: int = 1) -> Any:
        return self.client(who, "payment-cryptography-data", region, attempts)


@contextlib.contextmanager
def iam_server(base: Path, principals: dict[str, Who] | None = None, **settings: Any) -> Iterator[IamServer]:
    principals = principals or PRINCIPALS
    credentials = credentials_file(base / "credentials.toml", principals)
    config = Settings(port=free_port(), data_dir=base / "data", credentials_file=credentials, **settings)
    with serving(config) as running:
        yield IamServer(running.endpoint, running.parts, config.data_dir, principals)


_ID_LOCK = threading.Lock()


def create_key_with_id(control: Any, key_id: str, attributes: dict, **kwargs: Any) -> str:
    """CreateKey whose key gets the given id (the server runs in this process's thread)."""
    with _ID_LOCK, pytest.MonkeyPatch.context() as patch:
        patch.setattr(identifiers, "new_key_id", lambda: key_id)
        return control.create_key(Exportable=True, KeyAttributes=attributes, **kwargs)["Key"]["KeyArn"]


def denied(call: Any, *args: Any, **kwargs: Any) -> dict:
    """The AccessDeniedException of a call (the status is checked by the caller's plane)."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    assert response["Error"]["Code"] == "AccessDeniedException", response
    return response
