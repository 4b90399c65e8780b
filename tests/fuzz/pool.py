"""Real keys for the fuzz run, made through boto3, so generated requests get past key resolution.

Two sets: the *crypto* keys (one per KeyUsage the validity table allows, in the cheapest
algorithms, TDES and AES both where the usage takes either, plus an imported root CA and a trusted
certificate) that data-plane and read-only calls use, and the *victims* that the calls which
change a key (DeleteKey, StopKeyUsage, TagResource, aliases, resource policies, replication) are
pointed at. The crypto keys therefore never change, which `crypto_state` checks over the API at the
end of a run, while the victims go through every state the mutating calls can give them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from paycrypt.regions import DEFAULT_REGIONS
from paycrypt.service.rules import combinations
from tests import kx_partner as kp
from tests.api.known_keys import import_partner_ca

ROOT = "ROOT_CA"  # pseudo KeyUsage of the imported root CA (RootCertificatePublicKey)
TRUSTED = "TRUSTED_CERTIFICATE"  # pseudo KeyUsage of the imported trusted certificate
CHEAP = ("TDES_2KEY", "AES_128", "HMAC_SHA256", "RSA_2048", "ECC_NIST_P256")
VICTIM_USAGES = (
    "TR31_C0_CARD_VERIFICATION_KEY",
    "TR31_C0_CARD_VERIFICATION_KEY",
    "TR31_C0_CARD_VERIFICATION_KEY",
    "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    "TR31_M7_HMAC_KEY",
)


@dataclass(frozen=True)
class Pool:
    account: str
    region: str
    regions: tuple[str, ...]
    keys: Mapping[str, tuple[str, ...]]  # KeyUsage (or ROOT, TRUSTED) -> ARNs of crypto keys
    aliases: tuple[str, ...]  # alias names of crypto keys
    victims: tuple[str, ...]
    victim_aliases: tuple[str, ...]
    certificates: tuple[str, ...]  # base64 of PEM certificates, as the API carries them
    import_tokens: tuple[str, ...]
    export_tokens: tuple[str, ...]

    @property
    def crypto_arns(self) -> tuple[str, ...]:
        return tuple(arn for arns in self.keys.values() for arn in arns)

    def usage(self, *usages: str) -> tuple[str, ...]:
        return tuple(arn for usage in usages for arn in self.keys.get(usage, ()))


def _attributes(usage: str, algorithm: str) -> dict[str, Any]:
    rule = combinations.RULES[usage]
    widest = max(
        (modes for modes in rule.modes if "NoRestrictions" not in modes), key=lambda m: (len(m), sorted(m))
    )
    return {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": rule.key_class,
        "KeyModesOfUse": {mode: True for mode in widest},
    }


def _create(control: Any, usage: str, algorithm: str) -> str:
    extra = {}
    if usage in combinations.DERIVE_KEY_USAGE_ALLOWED:
        extra["DeriveKeyUsage"] = "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    key = control.create_key(Exportable=True, KeyAttributes=_attributes(usage, algorithm), **extra)
    return key["Key"]["KeyArn"]


def build(control: Any, region: str = "us-east-1") -> Pool:
    """Create the keys, aliases, certificates and tokens a fuzz run points its requests at."""
    keys: dict[str, list[str]] = {}
    for usage, rule in combinations.RULES.items():
        for algorithm in (a for a in CHEAP if a in rule.algorithms):
            keys.setdefault(usage, []).append(_create(control, usage, algorithm))
    root = kp.ca("ECC_NIST_P256", "Fuzz root CA")
    keys[ROOT] = [import_partner_ca(control, "RootCertificatePublicKey", root)]
    trusted = kp.leaf(root, "ECC_NIST_P256", "Fuzz partner")
    keys[TRUSTED] = [import_partner_ca(control, "TrustedCertificatePublicKey", trusted, keys[ROOT][0])]
    certificates = [root.b64, trusted.b64, kp.leaf(root, "RSA_2048", "Fuzz RSA partner").b64]
    for usage in ("TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION"):
        served = control.get_public_key_certificate(KeyIdentifier=keys[usage][0])
        certificates += [served["KeyCertificate"], served["KeyCertificateChain"]]

    aliases = []
    for usage, arns in keys.items():
        name = "alias/fuzz-" + usage.lower().replace("_", "-")
        control.create_alias(AliasName=name, KeyArn=arns[0])
        aliases.append(name)
    victims = [
        _create(control, usage, "AES_128" if "M7" not in usage else "HMAC_SHA256") for usage in VICTIM_USAGES
    ]
    victim_aliases = []
    for index, arn in enumerate(victims[:3]):
        name = f"alias/fuzz-victim-{index}"
        control.create_alias(AliasName=name, KeyArn=arn)
        victim_aliases.append(name)

    import_tokens = []
    for material in ("KEY_CRYPTOGRAM", "TR34_KEY_BLOCK"):
        params = control.get_parameters_for_import(KeyMaterialType=material, WrappingKeyAlgorithm="RSA_2048")
        import_tokens.append(params["ImportToken"])
        certificates.append(params["WrappingKeyCertificate"])
    export = control.get_parameters_for_export(
        KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048"
    )
    certificates.append(export["SigningKeyCertificate"])

    return Pool(
        account=keys[ROOT][0].split(":")[4],
        region=region,
        regions=DEFAULT_REGIONS,
        keys={usage: tuple(arns) for usage, arns in keys.items()},
        aliases=tuple(aliases),
        victims=tuple(victims),
        victim_aliases=tuple(victim_aliases),
        certificates=tuple(certificates),
        import_tokens=tuple(import_tokens),
        export_tokens=(export["ExportToken"],),
    )


def crypto_state(control: Any, pool: Pool) -> dict[str, Any]:
    """What the API says about the crypto keys: GetKey, tags, resource policy, aliases, ListKeys.

    Nothing a fuzz run sends may change any of it (mutating calls go to the victims only).
    """
    arns = set(pool.crypto_arns)
    state: dict[str, Any] = {}
    for arn in sorted(arns):
        state[f"GetKey {arn}"] = control.get_key(KeyIdentifier=arn)["Key"]
        state[f"Tags {arn}"] = control.list_tags_for_resource(ResourceArn=arn)["Tags"]
        try:
            state[f"Policy {arn}"] = control.get_resource_policy(ResourceArn=arn)["Policy"]
        except botocore.exceptions.ClientError as error:
            state[f"Policy {arn}"] = error.response["Error"]["Code"]
    state["ListKeys"] = sorted(
        (key for key in _all(control, "list_keys", "Keys") if key["KeyArn"] in arns),
        key=lambda k: k["KeyArn"],
    )
    state["ListAliases"] = sorted(
        alias["AliasName"] + " -> " + str(alias.get("KeyArn"))
        for alias in _all(control, "list_aliases", "Aliases")
        if alias["AliasName"] in pool.aliases or alias.get("KeyArn") in arns
    )
    return state


def _all(control: Any, method: str, member: str) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        page = getattr(control, method)(**({"NextToken": token} if token else {}))
        items += page[member]
        token = page.get("NextToken")
        if not token:
            return items
