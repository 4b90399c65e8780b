"""Operation name → service function, for both planes. Absent names answer 501 NotImplemented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.service import (
    aliases,
    as2805_ops,
    card_validation,
    certificates_ops,
    data_encryption,
    emv_ops,
    exporting,
    importing,
    keys,
    mac_ops,
    mpa,
    parameters,
    pin_data,
    pin_translation,
    replication,
    resource_policies,
    tags,
    translate_key_material,
)
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
    "GetParametersForImport": parameters.get_parameters_for_import,
    "GetParametersForExport": parameters.get_parameters_for_export,
    "ImportKey": importing.import_key,
    "ExportKey": exporting.export_key,
    "GetPublicKeyCertificate": certificates_ops.get_public_key_certificate,
    "GetCertificateSigningRequest": certificates_ops.get_certificate_signing_request,
    "AddKeyReplicationRegions": replication.add_key_replication_regions,
    "RemoveKeyReplicationRegions": replication.remove_key_replication_regions,
    "EnableDefaultKeyReplicationRegions": replication.enable_default_key_replication_regions,
    "DisableDefaultKeyReplicationRegions": replication.disable_default_key_replication_regions,
    "GetDefaultKeyReplicationRegions": replication.get_default_key_replication_regions,
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
    "VerifyAuthRequestCryptogram": emv_ops.verify_auth_request_cryptogram,
    "GenerateAuthRequestCryptogram": emv_ops.generate_auth_request_cryptogram,
    "GenerateMacEmvPinChange": emv_ops.generate_mac_emv_pin_change,
    "GenerateMac": mac_ops.generate_mac,
    "VerifyMac": mac_ops.verify_mac,
    "EncryptData": data_encryption.encrypt_data,
    "DecryptData": data_encryption.decrypt_data,
    "ReEncryptData": data_encryption.re_encrypt_data,
    "GeneratePinData": pin_data.generate_pin_data,
    "VerifyPinData": pin_data.verify_pin_data,
    "TranslatePinData": pin_translation.translate_pin_data,
    "GenerateAs2805KekValidation": as2805_ops.generate_as2805_kek_validation,
    "TranslateKeyMaterial": translate_key_material.translate_key_material,
}
