"""Importing through the console over HTTP: an RSA-wrapped key cryptogram and a TR-34 key block,
each after GetParametersForImport shows the wrapping certificate (downloaded as PEM) and the
import token; the key material is made here, wrapped here (RSA-OAEP with cryptography, TR-34 with
the test KDH of tests/crypto/test_tr34.py), and its KCV compared with the console's."""

from __future__ import annotations

import base64
import re
import secrets

from tests import kx_partner as kp
from tests.api.iam_support import IamServer
from tests.console.support import PRINCIPALS, Browser
from tests.crypto.test_tr34 import _kdh_build


def start(web: Browser, kind: str) -> tuple[str, str, str]:
    """Step one: (the page, the wrapping certificate's base64 PEM, the import token)."""
    token = web.csrf("/console/import")
    page = web.post("/console/import/parameters", {"csrf": token, "format": kind, "algorithm": "RSA_2048"})
    assert page.status_code == 200, page.text
    certificate = re.search(
        r'<textarea id="certificate-text" readonly rows="4" cols="80">([^<]+)<', page.text
    )[1]
    import_token = re.search(r'id="import-token">([^<]+)<', page.text)[1]
    download = web.post("/console/import/certificate", {"csrf": token, "certificate": certificate})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.content == base64.b64decode(certificate)
    return page.text, certificate, import_token


def finish(web: Browser, fields: dict[str, str]) -> str:
    token = web.csrf("/console/import")
    confirm = web.post("/console/import", {"csrf": token, **fields})
    assert confirm.status_code == 200 and "Confirm" in confirm.text
    done = web.post("/console/import", {"csrf": token, **fields, "confirmed": "yes"})
    assert done.status_code == 200, done.text
    return done.text


def test_an_rsa_wrapped_key_cryptogram(web: Browser) -> None:
    web.sign_in(PRINCIPALS["alice"])
    _, certificate, import_token = start(web, "cryptogram")
    material = secrets.token_bytes(16)
    cryptogram = kp.rsa_wrap(kp.load_b64(certificate), material)
    fields = {
        "format": "cryptogram",
        "token": import_token,
        "usage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "algorithm": "TDES_2KEY",  # RSA_2048 may wrap at most 112-bit strength (the guide's rule)
        "modes": "Encrypt,Decrypt,Wrap,Unwrap",
        "spec": "RSA_OAEP_SHA_256",
        "block": cryptogram,
        "expected_kcv": kp.kcv_tdes(material),
    }
    result = finish(web, fields)
    assert re.search(r'id="result-kcv">([^<]+)<', result)[1] == kp.kcv_tdes(material)
    assert "The KCV matches" in result


def test_a_tr34_key_block(web: Browser, console_server: IamServer) -> None:
    root = kp.ca("RSA_2048", "Partner RSA Root")
    control = console_server.client("alice")
    root_arn = control.import_key(
        KeyMaterial={"RootCertificatePublicKey": kp.ca_certificate_member(root, "RSA_2048")}
    )["Key"]["KeyArn"]
    web.sign_in(PRINCIPALS["alice"])
    page, certificate, import_token = start(web, "tr34")
    assert f'<option value="{root_arn}">' in page  # the CA to choose
    kdh = kp.leaf(root, name="Partner KDH")
    kek = secrets.token_bytes(16)
    nonce = secrets.token_bytes(8)
    block = _kdh_build(
        kek, "D9999K1TB00E0000", (kdh.certificate, kdh.key), kp.load_b64(certificate), nonce=nonce
    )
    fields = {
        "format": "tr34",
        "token": import_token,
        "ca": root_arn,
        "signing_certificate": kdh.b64,
        "nonce": nonce.hex().upper(),
        "block": block.hex().upper(),
        "expected_kcv": "000000",
    }
    result = finish(web, fields)
    assert re.search(r'id="result-kcv">([^<]+)<', result)[1] == kp.kcv_tdes(kek)
    assert "does NOT match" in result  # the wrong KCV typed is called out
