"""The AWS protocols paycrypt speaks, one class each, picked by a model's `metadata.protocol`.

As botocore picks its serializer and parser and LocalStack its service parser: by the name the
model gives its protocol, never by which service it is.
"""

from __future__ import annotations

from collections.abc import Collection

from botocore.model import ServiceModel

from paycrypt.wire.operations import compile_model
from paycrypt.wire.protocols.aws_json import AwsJson1_0
from paycrypt.wire.protocols.aws_query import AwsQuery
from paycrypt.wire.protocols.base import Protocol, Response, Routed
from paycrypt.wire.protocols.rest_json import RestJson1

__all__ = ["PROTOCOLS", "Protocol", "Response", "Routed", "for_model"]

PROTOCOLS: dict[str, type[Protocol]] = {cls.name: cls for cls in (AwsJson1_0, RestJson1, AwsQuery)}


def for_model(plane: str, model: ServiceModel, served: Collection[str]) -> Protocol:
    """`model`'s operations, compiled, behind the class of the protocol it names."""
    protocol = PROTOCOLS[model.metadata["protocol"]]
    return protocol(model, compile_model(plane, model), served)
