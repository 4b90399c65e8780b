"""Operation name → service function, for both planes. Absent names answer 501 NotImplemented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.service.approval import mpa
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import (
    export_key,
    import_key,
    key_certificates,
    parameters,
    translate_key_material,
)
from paycrypt.service.issuer import card_validation, emv, pin_data
from paycrypt.service.keys import aliases, lifecycle, resource_policies, tags
from paycrypt.service.replication import key_regions
from paycrypt.service.transactions import as2805_kek_validation, data_encryption, macs, pin_translation

Operation = Callable[[Service, Context, dict[str, Any]], dict[str, Any]]

CONTROL: dict[str, Operation] = {
    "CreateKey": lifecycle.create_key,
    "GetKey": lifecycle.get_key,
    "ListKeys": lifecycle.list_keys,
    "DeleteKey": lifecycle.delete_key,
    "RestoreKey": lifecycle.restore_key,
    "StartKeyUsage": lifecycle.start_key_usage,
    "StopKeyUsage": lifecycle.stop_key_usage,
    "CreateAlias": aliases.create_alias,
    "UpdateAlias": aliases.update_alias,
    "DeleteAlias": aliases.delete_alias,
    "GetAlias": aliases.get_alias,
    "ListAliases": aliases.list_aliases,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
    "GetParametersForImport": parameters.get_parameters_for_import,
    "GetParametersForExport": parameters.get_parameters_for_export,
    "ImportKey": import_key.import_key,
    "ExportKey": export_key.export_key,
    "GetPublicKeyCertificate": key_certificates.get_public_key_certificate,
    "GetCertificateSigningRequest": key_certificates.get_certificate_signing_request,
    "AddKeyReplicationRegions": key_regions.add_key_replication_regions,
    "RemoveKeyReplicationRegions": key_regions.remove_key_replication_regions,
    "EnableDefaultKeyReplicationRegions": key_regions.enable_default_key_replication_regions,
    "DisableDefaultKeyReplicationRegions": key_regions.disable_default_key_replication_regions,
    "GetDefaultKeyReplicationRegions": key_regions.get_default_key_replication_regions,
    "PutResourcePolicy": resource_policies.put_resource_policy,
    "GetResourcePolicy": resource_policies.get_resource_policy,
    "DeleteResourcePolicy": resource_policies.delete_resource_policy,
    "AssociateMpaTeam": mpa.associate_mpa_team,
    "DisassociateMpaTeam": mpa.disassociate_mpa_team,
    "GetMpaTeamAssociation": mpa.get_mpa_team_association,
}

DATA: dict[str, Operation] = {
    "GenerateCardValidationData": card_validation.generate_card_validation_data,
    "VerifyCardValidationData": card_validation.verify_card_validation_data,
    "VerifyAuthRequestCryptogram": emv.verify_auth_request_cryptogram,
    "GenerateAuthRequestCryptogram": emv.generate_auth_request_cryptogram,
    "GenerateMacEmvPinChange": emv.generate_mac_emv_pin_change,
    "GenerateMac": macs.generate_mac,
    "VerifyMac": macs.verify_mac,
    "EncryptData": data_encryption.encrypt_data,
    "DecryptData": data_encryption.decrypt_data,
    "ReEncryptData": data_encryption.re_encrypt_data,
    "GeneratePinData": pin_data.generate_pin_data,
    "VerifyPinData": pin_data.verify_pin_data,
    "TranslatePinData": pin_translation.translate_pin_data,
    "GenerateAs2805KekValidation": as2805_kek_validation.generate_as2805_kek_validation,
    "TranslateKeyMaterial": translate_key_material.translate_key_material,
}
