"""The two Payment Cryptography service models, loaded once from the pinned botocore.

Why pinned: the server must serve every operation and member of botocore 1.44.8's models (for
example GenerateAuthRequestCryptogram) whatever botocore the client runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import botocore
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

CONTROL = "payment-cryptography"
DATA = "payment-cryptography-data"


@dataclass(frozen=True)
class Models:
    control: ServiceModel
    data: ServiceModel

    def plane(self, name: str) -> ServiceModel:
        return self.control if name == CONTROL else self.data

    def operation(self, plane: str, name: str) -> OperationModel:
        return self.plane(plane).operation_model(name)


@functools.cache
def load() -> Models:
    loader = Loader()
    return Models(
        control=ServiceModel(loader.load_service_model(CONTROL, "service-2"), CONTROL),
        data=ServiceModel(loader.load_service_model(DATA, "service-2"), DATA),
    )


def botocore_version() -> str:
    return botocore.__version__
