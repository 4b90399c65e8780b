"""Multi-party approval (issue 8 item 4) through boto3 and `paycrypt mpa`.

A team protects IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE: ImportKey with RootCertificatePublicKey
answers at once with a key in CREATE_IN_PROGRESS and MpaStatus PENDING; the key becomes
CREATE_COMPLETE when the quorum approves with `paycrypt mpa approve`, and stays unusable with a
StatusMessage when the session fails (rejected) or is cancelled. Changing or removing the team
needs the team's own approval (UPDATE_PENDING / DELETE_PENDING).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from typing import Any

import pytest

from paycrypt.audit import reader
from paycrypt.cli.main import main
from tests import kx_partner as kp
from tests.api.helpers import expect_error
from tests.api.iam_support import B, IamServer
from tests.api.processes import PAYCRYPT

ACTION = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"
ACCOUNT = "111122223333"
REGION = "us-east-1"
S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"


def mpa(iam: IamServer, *args: str, ok: bool = True) -> Any:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["mpa", "--data-dir", str(iam.data_dir), *args])
    assert (code == 0) == ok, (code, err.getvalue())
    return json.loads(out.getvalue()) if ok else err.getvalue()


def import_root(control: Any, party: kp.Party | None = None) -> dict:
    party = party or kp.ca("RSA_2048")
    return control.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": S0,
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": party.b64,
            }
        }
    )["Key"]


def import_trusted(control: Any, ca_arn: str, party: kp.Party) -> dict:
    leaf = kp.leaf(party, "RSA_2048")
    return control.import_key(
        KeyMaterial={
            "TrustedCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": S0,
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": leaf.b64,
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
            }
        }
    )["Key"]


def make_team(iam: IamServer, region: str, name: str, approvals: int, *members: str) -> str:
    """A team in the region (each test has a region of its own: associations are per region)."""
    created = mpa(
        iam, "create-team", "--account", ACCOUNT, "--region", region, "--name", name,
        "--approvals", str(approvals), *(arg for m in members for arg in ("--member", m)),
    )  # fmt: skip
    arn = f"arn:aws:mpa:{region}:{ACCOUNT}:approval-team/{name}"
    assert created["Team"] == {
        "MpaTeamArn": arn,
        "Name": name,
        "Members": sorted(members),
        "ApprovalsRequired": approvals,
    }
    return arn


def associated(iam: IamServer, region: str) -> tuple[Any, str]:
    """Root's client in the region, with key-custodians (2 of alice, bob, carol) associated."""
    team = make_team(iam, region, "key-custodians", 2, "alice", "bob", "carol")
    control = iam.client("root", region=region)
    control.associate_mpa_team(Action=ACTION, MpaTeamArn=team)
    return control, team


def test_association_and_the_protected_import(iam: IamServer) -> None:
    team = make_team(iam, REGION, "key-custodians", 2, "alice", "bob", "carol")
    control = iam.client("root", region=REGION)
    expect_error(control.get_mpa_team_association, "ResourceNotFoundException", 400, Action=ACTION)
    missing = f"arn:aws:mpa:{REGION}:{ACCOUNT}:approval-team/nobody"
    expect_error(
        control.associate_mpa_team, "ResourceNotFoundException", 400, Action=ACTION, MpaTeamArn=missing
    )
    foreign = f"arn:aws:mpa:{REGION}:{B}:approval-team/key-custodians"
    expect_error(
        control.associate_mpa_team, "ResourceNotFoundException", 400, Action=ACTION, MpaTeamArn=foreign
    )
    association = control.associate_mpa_team(Action=ACTION, MpaTeamArn=team, RequesterComment="ticket 42")
    iam.app.audit.sync()
    events = [event for _, event in reader.read_events(iam.data_dir)]
    [event] = [e for e in events if e["requestID"] == association["ResponseMetadata"]["RequestId"]]
    assert event["requestParameters"]["requesterComment"] == "*** Sensitive Data Redacted ***"  # sensitive
    assert association["MpaTeamAssociation"] == {
        "Action": ACTION,
        "MpaTeamArn": team,
        "AssociationState": "ACTIVE",
    }
    assert (
        control.get_mpa_team_association(Action=ACTION)["MpaTeamAssociation"]["AssociationState"] == "ACTIVE"
    )

    # The import answers at once, pending.
    party = kp.ca("RSA_2048")
    key = import_root(control, party)
    assert key["KeyState"] == "CREATE_IN_PROGRESS"
    status = key["MpaStatus"]
    assert status["Status"] == "PENDING" and set(status) == {"MpaSessionArn", "Status", "InitiationDate"}
    assert status["MpaSessionArn"].startswith(f"arn:aws:mpa:{REGION}:{ACCOUNT}:session/key-custodians/")
    session = status["MpaSessionArn"]
    assert control.get_key(KeyIdentifier=key["KeyArn"])["Key"]["MpaStatus"] == status
    expect_error(import_trusted, "ValidationException", 400, control, key["KeyArn"], party)  # not usable yet

    [pending] = mpa(iam, "list-sessions", "--status", "PENDING")["Sessions"]
    assert (pending["MpaSessionArn"], pending["Subject"], pending["Kind"]) == (
        session,
        key["KeyArn"],
        "import",
    )
    assert (
        mpa(iam, "approve", "--session-arn", session, "--member", "alice")["Session"]["Status"] == "PENDING"
    )
    assert "already voted" in mpa(iam, "approve", "--session-arn", session, "--member", "alice", ok=False)
    assert "not a member" in mpa(iam, "approve", "--session-arn", session, "--member", "mallory", ok=False)
    assert control.get_key(KeyIdentifier=key["KeyArn"])["Key"]["KeyState"] == "CREATE_IN_PROGRESS"
    done = mpa(iam, "approve", "--session-arn", session, "--member", "bob")["Session"]
    assert done["Status"] == "APPROVED"
    approved = control.get_key(KeyIdentifier=key["KeyArn"])["Key"]
    assert approved["KeyState"] == "CREATE_COMPLETE"
    assert approved["MpaStatus"]["Status"] == "APPROVED" and approved["MpaStatus"]["StatusMessage"]
    assert import_trusted(control, key["KeyArn"], party)["KeyState"] == "CREATE_COMPLETE"  # now usable
    assert "already APPROVED" in mpa(iam, "approve", "--session-arn", session, "--member", "carol", ok=False)


def test_rejected_and_cancelled_sessions_leave_the_key_unusable(iam: IamServer) -> None:
    control, _ = associated(iam, "us-east-2")
    party = kp.ca("RSA_2048")
    rejected = import_root(control, party)
    session = rejected["MpaStatus"]["MpaSessionArn"]
    mpa(iam, "reject", "--session-arn", session, "--member", "alice")
    assert mpa(iam, "reject", "--session-arn", session, "--member", "carol")["Session"]["Status"] == "FAILED"
    key = control.get_key(KeyIdentifier=rejected["KeyArn"])["Key"]
    assert key["KeyState"] == "CREATE_IN_PROGRESS"
    assert key["MpaStatus"]["Status"] == "FAILED"
    assert key["MpaStatus"]["StatusMessage"] == "Rejected by 2 of 3 approvers; 2 approvals were required."
    expect_error(import_trusted, "ValidationException", 400, control, rejected["KeyArn"], party)
    # Deleting and restoring it does not make it usable.
    control.delete_key(KeyIdentifier=rejected["KeyArn"])
    assert control.restore_key(KeyIdentifier=rejected["KeyArn"])["Key"]["KeyState"] == "CREATE_IN_PROGRESS"

    cancelled = import_root(control)
    session = cancelled["MpaStatus"]["MpaSessionArn"]
    assert mpa(iam, "cancel", "--session-arn", session, "--by", "alice")["Session"]["Status"] == "CANCELLED"
    key = control.get_key(KeyIdentifier=cancelled["KeyArn"])["Key"]
    assert (key["KeyState"], key["MpaStatus"]["Status"]) == ("CREATE_IN_PROGRESS", "CANCELLED")
    assert key["MpaStatus"]["StatusMessage"] == "Cancelled by alice."
    # A key pending deletion cannot have its session settled.
    pending = import_root(control)
    control.delete_key(KeyIdentifier=pending["KeyArn"])
    session = pending["MpaStatus"]["MpaSessionArn"]
    assert "restore it" in mpa(iam, "approve", "--session-arn", session, "--member", "alice", ok=False)


@pytest.mark.cli
def test_changing_or_removing_the_team_needs_its_approval(iam: IamServer) -> None:
    control, team = associated(iam, "us-west-2")
    second_team = make_team(iam, "us-west-2", "auditors", 1, "dave")
    # Replacing the team: UPDATE_PENDING until the current team decides; rejected → unchanged.
    update = control.associate_mpa_team(Action=ACTION, MpaTeamArn=second_team)["MpaTeamAssociation"]
    assert (update["AssociationState"], update["MpaTeamArn"]) == ("UPDATE_PENDING", second_team)
    session = update["MpaStatus"]["MpaSessionArn"]
    expect_error(control.disassociate_mpa_team, "ConflictException", 400, Action=ACTION)
    expect_error(control.associate_mpa_team, "ConflictException", 400, Action=ACTION, MpaTeamArn=team)
    still = import_root(control)  # while the change is pending, the current team still protects imports
    assert still["MpaStatus"]["MpaSessionArn"].split("/")[1] == "key-custodians"
    mpa(iam, "reject", "--session-arn", session, "--member", "alice")
    mpa(iam, "reject", "--session-arn", session, "--member", "bob")
    after = control.get_mpa_team_association(Action=ACTION)["MpaTeamAssociation"]
    assert (after["AssociationState"], after["MpaTeamArn"], after["MpaStatus"]["Status"]) == (
        "ACTIVE",
        team,
        "FAILED",
    )
    # Removing it: DELETE_PENDING, then gone once approved; imports are then complete at once.
    removal = control.disassociate_mpa_team(Action=ACTION, RequesterComment="rotation")["MpaTeamAssociation"]
    assert removal["AssociationState"] == "DELETE_PENDING" and removal["MpaStatus"]["Status"] == "PENDING"
    session = removal["MpaStatus"]["MpaSessionArn"]
    mpa(iam, "approve", "--session-arn", session, "--member", "carol")
    mpa(iam, "approve", "--session-arn", session, "--member", "bob")
    expect_error(control.get_mpa_team_association, "ResourceNotFoundException", 400, Action=ACTION)
    free = import_root(control)
    assert free["KeyState"] == "CREATE_COMPLETE" and "MpaStatus" not in free
    # A team in use cannot be deleted; one that protects nothing can.
    control.associate_mpa_team(Action=ACTION, MpaTeamArn=second_team)
    assert "associated" in mpa(iam, "delete-team", "--team-arn", second_team, ok=False)
    assert "pending sessions" in mpa(iam, "delete-team", "--team-arn", team, ok=False)
    mpa(iam, "cancel", "--session-arn", still["MpaStatus"]["MpaSessionArn"])
    assert mpa(iam, "delete-team", "--team-arn", team)["Deleted"] == team
    # The command itself, as a user runs it.
    listed = subprocess.run(
        [str(PAYCRYPT), "mpa", "--data-dir", str(iam.data_dir), "list-teams"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert second_team in {t["MpaTeamArn"] for t in json.loads(listed.stdout)["Teams"]}


def test_mpa_calls_are_authorized_like_any_other(iam: IamServer) -> None:
    associated(iam, "eu-west-1")
    nopolicy = iam.client("nopolicy", region="eu-west-1")
    response = expect_error(nopolicy.get_mpa_team_association, "AccessDeniedException", 400, Action=ACTION)
    assert "payment-cryptography:GetMpaTeamAssociation" in response["Error"]["Message"]
