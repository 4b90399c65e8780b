"""Known test keys, stored with the service's own key-storing path, for known-answer tests.

Until ImportKey lands (issue 3), known-answer tests put a published key into the in-thread
server through `keys.store_key`, the same path ImportKey will use. Once ImportKey exists, the
known-answer tests also import their keys through boto3.
"""

from __future__ import annotations

import uuid
from typing import Any

from paycrypt.service import key_rules, keys
from paycrypt.service.context import Caller, Context
from tests.conftest import REGION, RunningServer

ACCOUNT = "111122223333"


def put_known_key(
    server: RunningServer,
    material: bytes,
    key_usage: str,
    key_algorithm: str,
    modes: dict[str, bool],
    *,
    exportable: bool = True,
    region: str = REGION,
    derive_key_usage: str | None = None,
) -> dict[str, Any]:
    """Store `material` as a key of the dev account and return its API Key view."""
    service = server.app.service
    attributes = {
        "KeyUsage": key_usage,
        "KeyAlgorithm": key_algorithm,
        "KeyClass": key_rules.RULES[key_usage].key_class,
        "KeyModesOfUse": modes,
    }
    key_rules.check_create(attributes, derive_key_usage)
    ctx = Context(
        Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/test", "AIDATEST"),
        region,
        service.clock.now(),
        str(uuid.uuid4()),
    )
    new = keys.NewKey(
        attributes=attributes,
        material=material,
        exportable=exportable,
        enabled=True,
        origin="EXTERNAL",
        derive_key_usage=derive_key_usage,
    )
    record = keys.store_key(service, ctx, new)
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}
