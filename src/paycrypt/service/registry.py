"""Operation name → service function, for both planes. Absent names answer 501 NotImplemented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.service import aliases, card_validation, keys, tags
from paycrypt.service.context import Context
from paycrypt.service.core import Service

Operation = Callable[[Service, Context, dict[str, Any]], dict[str, Any]]

CONTROL: dict[str, Operation] = {
    "CreateKey": keys.create_key,
    "GetKey": keys.get_key,
    "ListKeys": keys.list_keys,
    "DeleteKey": keys.delete_key,
    "RestoreKey": keys.restore_key,
    "StartKeyUsage": keys.start_key_usage,
    "StopKeyUsage": keys.stop_key_usage,
    "CreateAlias": aliases.create_alias,
    "UpdateAlias": aliases.update_alias,
    "DeleteAlias": aliases.delete_alias,
    "GetAlias": aliases.get_alias,
    "ListAliases": aliases.list_aliases,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
}

DATA: dict[str, Operation] = {
    "GenerateCardValidationData": card_validation.generate_card_validation_data,
    "VerifyCardValidationData": card_validation.verify_card_validation_data,
}
