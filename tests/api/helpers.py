"""Test helpers shared by the API tests."""

from __future__ import annotations

from pathlib import Path

import botocore.exceptions
import pytest

from tests import backend


def db_snapshot(data_dir: Path) -> tuple[list[tuple], ...]:
    """Every row of the store, read with a connection of its own, to prove a call changed nothing."""
    return tuple(
        backend.rows(data_dir, f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        for table in ("keys", "aliases", "tags")
    )


def expect_error(call, code: str, status: int, *args, **kwargs) -> dict:
    """Run a boto3 call that must fail with `code` and HTTP `status`; return the error response."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    assert response["Error"]["Message"], response
    return response


def absent_key_arn(arn: str) -> str:
    """An ARN of the same shape that names no key: the last character of the id changed."""
    return arn[:-1] + ("0" if arn[-1] != "0" else "1")
