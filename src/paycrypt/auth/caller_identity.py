"""STS GetCallerIdentity: who the verified signature says the caller is.

SDK scripts and the AWS CLI call it first, to check their credentials, so paycrypt serves it on
the same port (over awsQuery, wire/protocols/aws_query.py). It needs no permission: AWS answers
it even to a caller whose policies deny `sts:GetCallerIdentity`.
"""

from __future__ import annotations

from typing import Any

from paycrypt.service.context import Context
from paycrypt.service.core import Service


def get_caller_identity(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    return {"Arn": caller.arn, "UserId": caller.user_id, "Account": caller.account_id}


FUNCTIONS = {"GetCallerIdentity": get_caller_identity}
