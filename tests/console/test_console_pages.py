"""The console's pages over HTTP: export under a chosen KEK (the block unwrapped here with psec),
the inventory's paging over more keys than a page, the audit export as JSON Lines and who may
read it, and the create form's offer from the rules table."""

from __future__ import annotations

import json
import re

import psec

from paycrypt.service.rules.combinations import RULES
from tests.api.iam_support import IamServer
from tests.api.known_keys import _rsa_kek
from tests.conftest import CVK_ATTRIBUTES
from tests.console.support import PRINCIPALS, Browser, browser


def act(web: Browser, key_arn: str, **fields: str) -> str:
    """An action on a key's page, confirmed; the result page."""
    key_id = key_arn.rsplit("/", 1)[1]
    token = web.csrf(f"/console/keys/{key_id}")
    first = web.post(f"/console/keys/{key_id}/act", {"csrf": token, **fields})
    assert first.status_code == 200 and "Confirm" in first.text  # nothing done before confirmation
    done = web.post(f"/console/keys/{key_id}/act", {"csrf": token, **fields, "confirmed": "yes"})
    assert done.status_code in (200, 303), done.text
    return done.text


def test_export_as_tr31_under_a_chosen_kek(web: Browser, console_server: IamServer) -> None:
    control = console_server.client("alice")
    kek_arn, kek = _rsa_kek(control)
    key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]
    web.sign_in(PRINCIPALS["alice"])
    page = web.get(f"/console/keys/{key['KeyArn'].rsplit('/', 1)[1]}").text
    assert f'<option value="{kek_arn}">' in page  # the KEK is offered
    result = act(web, key["KeyArn"], action="export", kek=kek_arn)
    block = re.search(r'id="wrapped-block" class="wrap">([^<]+)<', result)[1]
    kcv = re.search(r'id="wrapped-kcv">([^<]+)<', result)[1]
    header, material = psec.tr31.unwrap(kek, block)
    assert header.key_usage == "C0"
    assert kcv == key["KeyCheckValue"]
    assert material.hex().upper() not in result.upper()  # the page shows the block, never the key


def test_the_inventory_pages_over_every_key(tmp_path) -> None:
    from tests.api.iam_support import iam_server

    with iam_server(tmp_path, PRINCIPALS) as server:
        control = server.client("alice")
        made = {
            control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
            for _ in range(60)
        }
        web = browser(server.endpoint)
        web.sign_in(PRINCIPALS["alice"])
        seen: list[str] = []
        path = "/console/keys?usage=TR31_C0_CARD_VERIFICATION_KEY"
        pages = 0
        while path:
            html = web.get(path).text
            pages += 1
            seen += re.findall(r'href="/console/keys/([a-z0-9]{16,64})"', html)
            found = re.search(r'rel="next" href="([^"]+)"', html)
            path = found[1].replace("&amp;", "&") if found else None
        assert pages == 3
        assert sorted(seen) == sorted(arn.rsplit("/", 1)[1] for arn in made)


def test_the_audit_export_is_json_lines_of_the_account(web: Browser, console_server: IamServer) -> None:
    arn = console_server.client("alice").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"][
        "KeyArn"
    ]
    web.sign_in(PRINCIPALS["alice"])
    response = web.get("/console/audit/export", params={"operation": "CreateKey", "key": arn})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in response.text.splitlines()]
    assert [e["eventName"] for e in events] == ["CreateKey"]
    assert events[0]["responseElements"]["key"]["keyArn"] == arn
    failures = web.get("/console/audit/export", params={"outcome": "failure"}).text.splitlines()
    assert all("errorCode" in json.loads(line) for line in failures)
    page = web.get("/console/audit", params={"operation": "CreateKey", "key": arn})
    assert page.status_code == 200 and page.text.count("<td>CreateKey</td>") == 1
    bad = web.get("/console/audit", params={"start": "yesterday"})
    assert "not a time" in bad.text


def test_a_principal_without_lookup_events_may_not_read_the_trail(console_server: IamServer) -> None:
    web = browser(console_server.endpoint)
    web.sign_in(PRINCIPALS["bob"])  # every payment-cryptography action, but no cloudtrail:LookupEvents
    assert web.get("/console/audit").status_code == 403
    assert web.get("/console/audit/export").status_code == 403


def test_the_create_form_offers_the_rules_combinations(web: Browser) -> None:
    web.sign_in(PRINCIPALS["alice"])
    for usage, rule in RULES.items():
        html = web.get("/console/keys/new", params={"usage": usage}).text
        offered = re.findall(r"<option>([A-Z0-9_]+)</option>", html)
        assert offered == sorted(rule.algorithms), usage
        modes = {
            frozenset(v.split(",")) for v in re.findall(r'name="modes" id="modes-\d+" value="([^"]+)"', html)
        }
        assert modes == set(rule.modes), usage


def test_an_invalid_combination_is_refused_by_the_api(web: Browser, console_server: IamServer) -> None:
    web.sign_in(PRINCIPALS["alice"])
    token = web.csrf("/console/keys/new")
    form = {
        "csrf": token,
        "usage": "TR31_C0_CARD_VERIFICATION_KEY",
        "algorithm": "RSA_2048",
        "modes": "Generate",
    }
    refused = web.post("/console/keys/new", {**form, "confirmed": "yes"})
    assert refused.status_code == 400 and "ValidationException" in refused.text and "RSA_2048" in refused.text


def test_the_audit_view_merges_other_nodes_files(tmp_path) -> None:
    from paycrypt.audit.writer import AuditWriter
    from paycrypt.auth.credentials import CredentialStore
    from paycrypt.console import signin
    from tests.api.iam_support import credentials_file, iam_server

    other = tmp_path / "node-b"
    other.mkdir()
    alice = CredentialStore.from_file(credentials_file(tmp_path / "c.toml", PRINCIPALS)).lookup(
        PRINCIPALS["alice"].access_key
    )
    writer = AuditWriter(other, node_id="node-b")
    older = signin.login_event(alice, alice.access_key_id, "us-east-1", "10.9.8.7", "Success")
    # A minute before this node's sign-in: event times are to the second, so a tie would be possible.
    older["eventTime"] = "2026-01-01T00:00:00Z"
    writer.record(older)
    writer.close()
    with iam_server(tmp_path / "node-a", PRINCIPALS, console_audit_dirs=(other,)) as server:
        web = browser(server.endpoint)
        web.sign_in(PRINCIPALS["alice"])
        page = web.get("/console/audit").text
        assert "2 directories" in page and str(other) in page
        lines = web.get("/console/audit/export", params={"operation": "ConsoleLogin"}).text.splitlines()
        events = [json.loads(line) for line in lines]
        assert [e["sourceIPAddress"] for e in events] == ["10.9.8.7", "127.0.0.1"]  # node-b's first: older
        assert [e["nodeId"] for e in events] == ["node-b", server.parts.audit.ident.node_id]
    with iam_server(tmp_path / "node-c", PRINCIPALS) as alone:
        web = browser(alone.endpoint)
        web.sign_in(PRINCIPALS["alice"])
        assert "This node's trail only" in web.get("/console/audit").text


def test_alias_move_and_delete_tag_removal_and_start(web: Browser, console_server: IamServer) -> None:
    control = console_server.client("alice")
    first = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    second = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, Enabled=False)["Key"]["KeyArn"]
    control.create_alias(AliasName="alias/console-move", KeyArn=first)
    control.tag_resource(ResourceArn=first, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    web.sign_in(PRINCIPALS["alice"])
    act(web, second, action="alias-update", alias="alias/console-move")
    assert control.get_alias(AliasName="alias/console-move")["Alias"]["KeyArn"] == second
    act(web, first, action="tag-remove", tag_key="a")
    assert control.list_tags_for_resource(ResourceArn=first)["Tags"] == [{"Key": "b", "Value": "2"}]
    act(web, second, action="start")
    assert control.get_key(KeyIdentifier=second)["Key"]["Enabled"] is True
    act(web, second, action="alias-delete", alias="alias/console-move")
    assert "alias/console-move" not in [a["AliasName"] for a in control.list_aliases()["Aliases"]]


def test_the_live_tail_refreshes(web: Browser) -> None:
    web.sign_in(PRINCIPALS["alice"])
    assert '<meta http-equiv="refresh" content="5">' in web.get("/console/audit", params={"tail": "1"}).text
    assert 'http-equiv="refresh"' not in web.get("/console/audit").text
