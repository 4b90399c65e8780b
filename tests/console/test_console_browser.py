"""The console end to end in a real browser (Playwright driving Debian's chromium) against a
server started by the test: a custodian signs in, creates a key from the rules' combinations,
gives it an alias and a tag, imports a TR-31 block built here with psec and compares the KCV,
stops, deletes and restores a key, filters the audit trail and votes on an approval request; an
IAM user without the permission sees the API's denial, and another site's forged form is refused.
The screenshots of docs/console.md are taken here."""

from __future__ import annotations

import http.server
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import psec
import pytest

from paycrypt.service.approval import mpa
from paycrypt.store.records import Team
from tests import kx_partner as kp
from tests.api.iam_support import IamServer
from tests.api.known_keys import _rsa_kek
from tests.conftest import CVK_ATTRIBUTES, free_port
from tests.console.browser_support import shot
from tests.console.support import PRINCIPALS

REGION = "us-east-1"

NAVIGATION_MS = 90_000  # a sign-in's navigation, with chromium beside two pytest workers and their servers


def sign_in(browser: Any, server: IamServer, who: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{server.endpoint}/console/")
    page.get_by_label("Access key id").fill(PRINCIPALS[who].access_key)
    page.get_by_label("Secret access key").fill(PRINCIPALS[who].secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/keys", timeout=NAVIGATION_MS)
    return page


def confirm(page: Any) -> None:
    page.get_by_role("button", name="Confirm").click()


def key_action(page: Any, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    confirm(page)
    page.get_by_role("status").first.wait_for()


def test_a_custodian_does_the_whole_job_in_the_browser(chromium: Any, console_server: IamServer) -> None:
    server = console_server
    # The sign-in page, then the custodian's session.
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    first = context.new_page()
    first.goto(f"{server.endpoint}/console/signin")
    shot(first, "signin")
    context.close()
    page = sign_in(chromium, server, "alice")

    # Create: the form offers the rules' algorithms and modes for the usage chosen.
    page.get_by_role("link", name="Create key").click()
    page.get_by_label("Key usage").select_option("TR31_C0_CARD_VERIFICATION_KEY")
    page.get_by_role("button", name="Next").click()
    options = page.get_by_label("Algorithm").locator("option").all_inner_texts()
    assert options == ["AES_128", "AES_192", "AES_256", "TDES_2KEY", "TDES_3KEY"]
    assert page.get_by_label("Generate, Verify").is_visible()
    page.get_by_label("Algorithm").select_option("TDES_2KEY")
    page.get_by_label("Generate, Verify").check()
    shot(page, "create")
    page.get_by_role("button", name="Create", exact=True).click()
    confirm(page)
    key_link = page.locator("#result-key")
    arn = key_link.inner_text()
    control = server.client("alice")
    assert (
        control.get_key(KeyIdentifier=arn)["Key"]["KeyAttributes"]["KeyUsage"]
        == "TR31_C0_CARD_VERIFICATION_KEY"
    )
    key_link.click()

    # Alias and tag.
    page.get_by_label("Alias name (alias/…)").fill("alias/console-e2e")
    page.get_by_role("button", name="Create alias").click()
    confirm(page)
    page.get_by_role("link", name="Back").click()
    page.get_by_label("Tag key").fill("team")
    page.get_by_label("Tag value").fill("issuing")
    page.get_by_role("button", name="Add tag").click()
    confirm(page)
    page.get_by_role("link", name="Back").click()
    assert "alias/console-e2e" in page.locator("#aliases").inner_text()
    assert "issuing" in page.locator("#tags").inner_text()
    assert control.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "issuing"}]
    assert control.get_alias(AliasName="alias/console-e2e")["Alias"]["KeyArn"] == arn
    shot(page, "key")

    # The inventory, filtered by tag and alias.
    page.goto(f"{server.endpoint}/console/keys?tag=team%3Dissuing")
    assert arn.rsplit("/", 1)[1] in page.locator("table").inner_text()
    page.goto(f"{server.endpoint}/console/keys?alias=no-such-alias")
    assert "No keys match." in page.locator("table").inner_text()
    page.goto(f"{server.endpoint}/console/keys")
    shot(page, "keys")

    # Import a TR-31 block built here with psec under a KEK of known material; compare the KCV.
    kek_arn, kek = _rsa_kek(control)
    material = secrets.token_bytes(16)
    block = psec.tr31.wrap(kek, "D0000C0AC00E0000", material)
    expected = kp.kcv_aes(material)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Wrapping key (KEK) the block is under").select_option(kek_arn)
    page.get_by_label("Key block", exact=True).fill(block)
    page.get_by_label("The partner's KCV (optional, to compare)").fill(expected)
    shot(page, "import")
    page.get_by_role("button", name="Import").click()
    confirm(page)
    assert page.locator("#result-kcv").inner_text() == expected
    assert "matches" in page.locator("#kcv-compare").inner_text()
    assert material.hex() not in page.content().lower()

    # Stop, delete (waiting period), restore.
    page.goto(f"{server.endpoint}/console/keys/{arn.rsplit('/', 1)[1]}")
    key_action(page, "Stop usage")
    assert control.get_key(KeyIdentifier=arn)["Key"]["Enabled"] is False
    page.get_by_role("link", name="Back").click()
    page.get_by_label("Waiting period (days, 3 to 180)").fill("3")
    key_action(page, "Delete")
    found = control.get_key(KeyIdentifier=arn)["Key"]
    assert found["KeyState"] == "DELETE_PENDING"
    assert found["DeletePendingTimestamp"].timestamp() == pytest.approx(time.time() + 3 * 86400, abs=120)
    page.get_by_role("link", name="Back").click()
    assert page.locator("#key-state").inner_text() == "DELETE_PENDING"
    key_action(page, "Restore")
    assert control.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "CREATE_COMPLETE"

    # The audit trail, filtered by operation and key: the console's calls are there, as alice's.
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Operation").fill("CreateAlias")
    page.get_by_label("Key", exact=True).fill(arn)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#events tbody tr").all_inner_texts()
    assert (
        len(rows) == 1
        and "CreateAlias" in rows[0]
        and "user/alice" in rows[0]
        and "paycrypt-console" in rows[0]
    )
    page.get_by_label("Operation").fill("")
    page.get_by_label("Key", exact=True).fill("")
    page.get_by_role("button", name="Filter").click()
    shot(page, "audit")
    page.close()


def test_an_approval_vote(chromium: Any, console_server: IamServer) -> None:
    server = console_server
    store = server.parts.service.store
    team_arn = mpa.team_arn(PRINCIPALS["root"].account, REGION, "custodians")
    store.mpa.put_team(
        Team(team_arn, PRINCIPALS["root"].account, REGION, "custodians", 2, time.time(), ("alice", "bob"))
    )
    root = server.client("root")
    root.associate_mpa_team(Action=mpa.ROOT_IMPORT, MpaTeamArn=team_arn)
    party = kp.ca("RSA_2048")
    key = root.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": party.b64,
            }
        }
    )["Key"]
    session_arn = key["MpaStatus"]["MpaSessionArn"]
    for who in ("alice", "bob"):
        page = sign_in(chromium, server, who)
        page.get_by_role("link", name="Approvals").click()
        if who == "alice":
            shot(page, "approvals")
        page.get_by_role("button", name=f"Approve {session_arn.rsplit('/', 1)[1]}").click()
        confirm(page)
        assert "Your vote (approve) was recorded." in page.get_by_role("status").first.inner_text()
        page.close()
    assert store.mpa.get_session(session_arn).status == mpa.APPROVED
    assert root.get_key(KeyIdentifier=key["KeyArn"])["Key"]["KeyState"] == "CREATE_COMPLETE"


def test_an_iam_user_without_the_permission_sees_the_denial(chromium: Any, console_server: IamServer) -> None:
    arn = console_server.client("alice").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"][
        "KeyArn"
    ]
    page = sign_in(chromium, console_server, "reader")
    page.goto(f"{console_server.endpoint}/console/keys/{arn.rsplit('/', 1)[1]}")
    page.get_by_role("button", name="Stop usage").click()
    confirm(page)
    denial = page.locator("#denial").inner_text()
    assert "AccessDeniedException" in denial and "user/reader" in denial
    shot(page, "denied")
    assert console_server.client("alice").get_key(KeyIdentifier=arn)["Key"]["Enabled"] is True


@pytest.fixture
def other_site() -> Iterator[str]:
    """Another origin (same host, another port) serving a page whose form posts to the console."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", pages
    finally:
        httpd.shutdown()


def test_a_forged_form_from_another_site_is_refused(
    chromium: Any, console_server: IamServer, other_site
) -> None:
    base, pages = other_site
    arn = console_server.client("alice").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"][
        "KeyArn"
    ]
    key_id = arn.rsplit("/", 1)[1]
    pages["/"] = (
        f'<form method="post" action="{console_server.endpoint}/console/keys/{key_id}/act">'
        '<input type="hidden" name="action" value="stop"><input type="hidden" name="confirmed" value="yes">'
        '<button type="submit">Win a prize</button></form>'
    ).encode()
    page = sign_in(chromium, console_server, "alice")  # the victim is signed in
    page.goto(base + "/")
    with page.expect_navigation():
        page.get_by_role("button", name="Win a prize").click()
    assert page.url.startswith(console_server.endpoint)
    assert "Refused" in page.locator("h1").inner_text()
    assert console_server.client("alice").get_key(KeyIdentifier=arn)["Key"]["Enabled"] is True


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map(e => e.outerHTML)"""


def test_by_keyboard_with_every_control_labelled(chromium: Any, console_server: IamServer) -> None:
    arn = console_server.client("alice").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"][
        "KeyArn"
    ]
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{console_server.endpoint}/console/signin")
    # The access key field has the focus; Tab moves through the form; Enter submits.
    page.keyboard.type(PRINCIPALS["alice"].access_key)
    page.keyboard.press("Tab")
    page.keyboard.type(PRINCIPALS["alice"].secret)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    # What was typed reached the fields (a keystroke lost under load would read as a refusal).
    assert page.input_value("#access_key_id") == PRINCIPALS["alice"].access_key
    assert page.input_value("#secret") == PRINCIPALS["alice"].secret
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/keys", timeout=NAVIGATION_MS)
    # The skip link is the first stop and leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for path in (
        "/console/keys",
        f"/console/keys/{arn.rsplit('/', 1)[1]}",
        "/console/keys/new?usage=TR31_K0_KEY_ENCRYPTION_KEY",
        "/console/import",
        "/console/audit",
        "/console/approvals",
    ):
        page.goto(console_server.endpoint + path)
        assert page.evaluate(UNLABELLED) == [], path
        assert page.locator("h1").count() == 1 and page.locator("main").count() == 1, path
    context.close()
