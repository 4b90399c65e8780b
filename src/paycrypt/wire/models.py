"""The service models paycrypt serves, read from the pinned botocore: the two Payment Cryptography
planes, and STS (for GetCallerIdentity).

Why pinned: the server must serve every operation and member of botocore 1.44.8's models (for
example GenerateAuthRequestCryptogram) whatever botocore the client runs.

`load()` is the one place they are read: the server calls it once and hands the `Models` to
everything built from them (the protocols, the audit plans, the policy's request catalog).
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

CONTROL = "payment-cryptography"
DATA = "payment-cryptography-data"
STS = "sts"


@dataclass(frozen=True)
class Models:
    control: ServiceModel
    data: ServiceModel
    sts: ServiceModel

    @property
    def services(self) -> tuple[ServiceModel, ServiceModel]:
        """The Payment Cryptography planes' models (what IAM policies and audit events speak of)."""
        return self.control, self.data

    @property
    def planes(self) -> tuple[tuple[str, ServiceModel], tuple[str, ServiceModel]]:
        """(plane name, model) of each plane."""
        return (CONTROL, self.control), (DATA, self.data)

    def plane(self, name: str) -> ServiceModel:
        return self.control if name == CONTROL else self.data

    def operation(self, plane: str, name: str) -> OperationModel:
        return self.plane(plane).operation_model(name)


def load() -> Models:
    """Read the models (about 0.1 s): call once and pass the result on."""
    loader = Loader()
    return Models(
        control=ServiceModel(loader.load_service_model(CONTROL, "service-2"), CONTROL),
        data=ServiceModel(loader.load_service_model(DATA, "service-2"), DATA),
        sts=ServiceModel(loader.load_service_model(STS, "service-2"), STS),
    )
