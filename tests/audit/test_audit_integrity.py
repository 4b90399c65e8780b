"""The audit trail is tamper-evident (issue 16 item 8) and written per node and worker (issue 15
items 3 and 7): each test edits real files the writer wrote — a line removed, a byte changed, two
lines swapped, a file deleted or truncated, a digest or its signature changed — and
`paycrypt audit verify` must name what happened and exit 1; an untouched trail, files deleted by
rotation, a file still being written and files from before the chain must pass."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from paycrypt.audit import chain, digests, integrity, reader, signing, streams, writer
from paycrypt.cli import audit as audit_cli
from paycrypt.cli import main as cli
from tests.docs_pages import code_blocks, page

NODE = "node-a.example"


def event(i: int, minute: int = 0) -> dict:
    return {"eventTime": f"2024-07-09T10:{minute:02d}:{i % 60:02d}Z", "eventName": "GetKey", "i": i}


def write_trail(directory: Path, count: int = 30, node: str = NODE, worker: int = 0, **options) -> list[Path]:
    """`count` events over several closed files (about 4 events a file); the files, oldest first."""
    settings = {"max_bytes": 4 * 250, "backups": 50, "fsync_interval": 0, **options}
    with writer.AuditWriter(directory, node_id=node, worker_id=worker, **settings) as log:
        for i in range(count):
            log.record(event(i))
    return log.files()


def verify(*directories: Path, keys: list[Path] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = audit_cli.run_verify(list(directories), keys or [], out)
    return status, out.getvalue()


def problems(directory: Path) -> list[str]:
    keys = signing.PublicKeys.from_files([directory / signing.PUBLIC_KEY_FILE])
    return [text for stream in integrity.verify([directory], keys).streams for text in stream.problems]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.fixture
def trail(tmp_path: Path) -> list[Path]:
    files = write_trail(tmp_path)
    assert len(files) >= 5
    return files


# --- what the writer writes ----------------------------------------------------------------------


def test_every_event_names_its_node_and_worker_and_links_to_the_one_before(tmp_path: Path) -> None:
    files = write_trail(tmp_path, worker=3)
    assert all(f.name.startswith(f"audit-{NODE}-w3-") for f in files)  # node and worker in the name
    stored = [raw.rstrip(b"\n") for path in files for raw in lines(path)]
    parsed = [json.loads(raw) for raw in stored]
    assert [e["i"] for e in parsed] == list(range(30))
    assert [e["sequence"] for e in parsed] == list(range(1, 31))
    assert {(e["nodeId"], e["workerId"]) for e in parsed} == {(NODE, 3)}
    assert parsed[0]["previousEventHash"] is None  # the stream's first event
    for before, after in zip(stored, parsed[1:], strict=False):  # across files too
        assert after["previousEventHash"] == chain.line_hash(before)
    assert list(parsed[0])[:3] == ["eventTime", "eventName", "i"]  # the event as given, then the chain
    assert list(parsed[0])[3:] == list(chain.CHAIN_FIELDS)


def test_each_closed_file_has_a_signed_digest_in_cloudtrails_shape(trail: list[Path]) -> None:
    directory = trail[0].parent
    previous = None
    for path in trail:
        digest_path = directory / streams.digest_name(path.name)
        body, data = digests.read(digest_path)
        [entry] = body["logFiles"]
        assert entry["logFile"] == path.name and entry["bytes"] == path.stat().st_size
        assert entry["hashValue"] == chain.hashlib.sha256(path.read_bytes()).hexdigest()
        last = lines(path)[-1].rstrip(b"\n")
        assert entry["lastEventHash"] == chain.line_hash(last)
        assert entry["lastSequence"] == json.loads(last)["sequence"]
        assert body["digestSignatureAlgorithm"] == "Ed25519"
        pem = (directory / signing.PUBLIC_KEY_FILE).read_bytes()
        assert body["digestPublicKeyFingerprint"] == signing.fingerprint(pem)
        signature = bytes.fromhex((directory / streams.signature_name(path.name)).read_text())
        public = serialization.load_pem_public_key(pem)
        prior_signature = previous[1] if previous else None
        public.verify(  # CloudTrail's string to sign, checked here with the library alone
            signature,
            "\n".join(
                (
                    body["digestEndTime"],
                    digest_path.name,
                    chain.hashlib.sha256(data).hexdigest(),
                    prior_signature or "null",
                )
            ).encode(),
        )
        if previous is not None:
            assert body["previousDigestFile"] == previous[0]
            assert body["previousDigestSignature"] == previous[1]
        previous = (digest_path.name, signature.hex())
    assert (directory / signing.PRIVATE_KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_an_untouched_trail_verifies(trail: list[Path]) -> None:
    status, text = verify(trail[0].parent)
    assert status == 0, text
    assert (
        f"node {NODE} worker 0: {len(trail)} file(s), 30 event(s), {len(trail)} signed digest(s): intact"
        in text
    )


def test_a_second_writer_of_the_same_stream_is_refused(tmp_path: Path) -> None:
    with writer.AuditWriter(tmp_path, node_id=NODE, fsync_interval=0):
        with pytest.raises(ValueError, match="another process is writing the audit stream"):
            writer.AuditWriter(tmp_path, node_id=NODE, fsync_interval=0)
        with writer.AuditWriter(tmp_path, node_id=NODE, worker_id=1, fsync_interval=0) as other:
            other.record(event(1))  # another worker: its own stream


def test_bad_node_ids_are_refused(tmp_path: Path) -> None:
    for bad in ("", "a/b", "-lead", "x" * 64, "a b"):
        with pytest.raises(ValueError, match="node id"):
            writer.AuditWriter(tmp_path, node_id=bad)


# --- tampering, file by file -----------------------------------------------------------------------


def test_an_event_removed(trail: list[Path]) -> None:
    middle = trail[2]
    kept = lines(middle)
    removed = json.loads(kept[1])["sequence"]
    middle.write_bytes(b"".join(kept[:1] + kept[2:]))
    status, text = verify(middle.parent)
    assert status == 1 and "TAMPERED" in text
    assert f"1 event(s) removed: sequence {removed}, between {middle.name}:1 and {middle.name}:2" in text
    assert f"{middle.name} truncated since its digest" in text


def test_a_byte_changed(trail: list[Path]) -> None:
    middle = trail[1]
    data = bytearray(middle.read_bytes())
    at = data.index(b'"GetKey"') + 1
    data[at] = ord("P")  # GetKey -> PetKey in the file's first event
    middle.write_bytes(bytes(data))
    first = json.loads(lines(middle)[0])["sequence"]
    found = problems(middle.parent)
    assert (
        f"{middle.name}:1: event {first} changed (event {first + 1} at {middle.name}:2 links to another hash)"
        in found
    )
    assert f"{middle.name} changed since its digest (same size, another SHA-256)" in found


def test_the_last_event_of_a_file_changed(trail: list[Path]) -> None:
    """The next file's first event links to it; its digest holds its hash."""
    middle = trail[1]
    kept = lines(middle)
    kept[-1] = kept[-1].replace(b'"GetKey"', b'"DelKey"')
    middle.write_bytes(b"".join(kept))
    found = problems(middle.parent)
    number = len(kept)
    assert any(f"{middle.name}:{number}: event" in text and "changed" in text for text in found)
    assert f"{middle.name}:{number}, the file's last event, changed (its digest holds another hash)" in found


def test_two_events_swapped(trail: list[Path]) -> None:
    middle = trail[2]
    kept = lines(middle)
    kept[0], kept[1] = kept[1], kept[0]
    middle.write_bytes(b"".join(kept))
    swapped = json.loads(kept[1])["sequence"]
    found = problems(middle.parent)
    assert any(
        f"{middle.name}:2: event {swapped} out of order" in text and "reordered" in text for text in found
    )
    assert not any("removed" in text for text in found)  # reordered, not mistaken for a removal


def test_a_middle_file_deleted(trail: list[Path]) -> None:
    middle = trail[2]
    sequences = [json.loads(raw)["sequence"] for raw in lines(middle)]
    middle.unlink()
    (middle.parent / streams.digest_name(middle.name)).unlink()
    (middle.parent / streams.signature_name(middle.name)).unlink()
    status, text = verify(middle.parent)
    assert status == 1
    assert f"log file {middle.name} removed" in text
    assert f"{len(sequences)} event(s) removed: sequence {sequences[0]} to {sequences[-1]}" in text
    assert f"digest {streams.digest_name(middle.name)} removed" in text  # the next digest links to it


def test_a_middle_file_deleted_with_its_digest_left(trail: list[Path]) -> None:
    trail[3].unlink()
    assert f"log file {trail[3].name} removed (its digest remains)" in problems(trail[0].parent)


def test_a_file_truncated(trail: list[Path]) -> None:
    middle = trail[3]
    data = middle.read_bytes()
    middle.write_bytes(data[: len(data) - 30])  # the last line cut mid-way
    found = problems(middle.parent)
    assert f"{middle.name}:{len(lines(middle))} is not a whole JSON event (changed, or torn)" in found
    assert f"{middle.name} truncated since its digest ({len(data) - 30} bytes, {len(data)} digested)" in found


def test_the_newest_file_truncated_by_whole_lines(trail: list[Path]) -> None:
    newest = trail[-1]
    kept = lines(newest)
    newest.write_bytes(b"".join(kept[:-1]))
    found = problems(newest.parent)
    assert any(f"{newest.name} holds {len(kept) - 1} event(s)" in text for text in found)


def test_a_changed_digest_fails_its_signature(trail: list[Path]) -> None:
    digest = trail[1].parent / streams.digest_name(trail[1].name)
    digest.write_text(digest.read_text().replace('"events": ', '"events": 1'))
    found = problems(digest.parent)
    assert f"digest {digest.name}: its signature fails (the digest or its signature changed)" in found
    assert f"digest {digest.name} changed: the next digest holds another hash of it" in found


def test_a_changed_signature_fails(trail: list[Path]) -> None:
    sig = trail[2].parent / streams.signature_name(trail[2].name)
    other = trail[3].parent / streams.signature_name(trail[3].name)
    sig.write_text(other.read_text())  # a real signature, of another digest
    digest = streams.digest_name(trail[2].name)
    found = problems(sig.parent)
    assert f"digest {digest}: its signature fails (the digest or its signature changed)" in found


def test_a_trail_rewritten_and_re_signed_with_another_key_fails_against_the_pinned_key(
    trail: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An intruder who rewrites a file must re-sign its digest, and cannot with the real key:
    with their own key (and their public key planted in the directory), the auditor's pinned copy
    of the real public key still refuses every digest."""
    directory = trail[0].parent
    pinned = tmp_path_factory.mktemp("auditor") / "pinned.pub"
    pinned.write_bytes((directory / signing.PUBLIC_KEY_FILE).read_bytes())
    for name in (signing.PRIVATE_KEY_FILE, signing.PUBLIC_KEY_FILE):
        (directory / name).unlink()
    for path in trail:
        for suffix in (streams.digest_name(path.name), streams.signature_name(path.name)):
            (directory / suffix).unlink()
    forged = trail[0].parent / "forged"
    forged.mkdir()
    for path in trail:  # the same events again, with one left out, under a new key
        path.rename(forged / path.name)
    events = [json.loads(raw) for path in trail for raw in lines(forged / path.name)]
    with writer.AuditWriter(directory, node_id=NODE, max_bytes=1000, backups=50, fsync_interval=0) as log:
        for item in events:
            if item["i"] != 7:
                log.record({k: v for k, v in item.items() if k not in chain.CHAIN_FIELDS})
    assert verify(directory)[0] == 0  # consistent with the key it now holds
    status, text = verify(directory, keys=[pinned])
    assert status == 1 and "which is not trusted" in text


def test_a_digest_and_its_signature_removed(trail: list[Path]) -> None:
    middle = trail[2]
    (middle.parent / streams.digest_name(middle.name)).unlink()
    (middle.parent / streams.signature_name(middle.name)).unlink()
    found = problems(middle.parent)
    assert f"digest of {middle.name} removed" in found


# --- not tampering ---------------------------------------------------------------------------------


def test_files_deleted_by_rotation_are_not_tampering(tmp_path: Path) -> None:
    files = write_trail(tmp_path, count=60, backups=3)
    assert len(files) == 4  # three closed files kept beside the newest
    assert streams.parse_name(files[0].name)[1] > 1  # the first files went
    status, text = verify(tmp_path)
    assert status == 0, text
    for name in (files[0].name, streams.digest_name(files[0].name), streams.signature_name(files[0].name)):
        (tmp_path / name).unlink()  # but the oldest file the newest digest keeps may not go, even whole
    assert f"log file {files[0].name} removed" in problems(tmp_path)


def test_the_file_being_written_is_verified_without_a_digest(tmp_path: Path) -> None:
    log = writer.AuditWriter(tmp_path, node_id=NODE, max_bytes=1000, fsync_interval=0)
    try:
        for i in range(10):
            log.record(event(i))
        status, text = verify(tmp_path)
        assert status == 0, text
        assert f"{log.path.name} has no digest yet" in text
        kept = lines(log.path)
        log.path.write_bytes(b"".join(kept[:1] + kept[2:]))  # but its events are chained
        assert any("1 event(s) removed" in text for text in problems(tmp_path))
    finally:
        log.close()


def test_files_from_before_the_chain_are_unchained_not_tampered(tmp_path: Path) -> None:
    old = [{**event(i), "eventTime": f"2024-07-08T10:00:0{i}Z"} for i in (1, 2, 3)]  # the day before
    (tmp_path / "audit.jsonl.1").write_text(json.dumps(old[0]) + "\n")
    (tmp_path / "audit.jsonl").write_text(json.dumps(old[1]) + "\n" + json.dumps(old[2]) + "\n")
    write_trail(tmp_path)
    status, text = verify(tmp_path)
    assert status == 0, text
    assert "audit.jsonl*: 2 file(s), 3 event(s), 0 signed digest(s): intact" in text
    assert "unchained: written before the audit chain existed" in text
    assert [e["i"] for _, e in reader.read_events(tmp_path)][:4] == [1, 2, 3, 0]  # still read, merged


KILLED_WRITER = """
import sys
import threading
from paycrypt.audit.writer import AuditWriter
log = AuditWriter(sys.argv[1], node_id="killed", fsync_interval=3600)
for i in range(50):
    log.record({"eventTime": "2024-07-09T10:00:00Z", "i": i})
print("written", flush=True)
import time
time.sleep(60)
"""


def test_a_writer_killed_mid_file_gets_a_backfill_digest_from_the_next(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    [killed] = streams.discover(tmp_path)
    assert not killed.digests  # it died before closing its file
    with writer.AuditWriter(tmp_path, node_id="killed", fsync_interval=0) as log:
        log.record({"eventTime": "2024-07-09T10:00:01Z", "i": 50})
    body, _ = digests.read(tmp_path / streams.digest_name(streams.log_name("killed", 0, 1)))
    assert body["backfill"] is True and body["logFiles"][0]["events"] == 50
    status, text = verify(tmp_path)
    assert status == 0, text
    assert [e["sequence"] for _, e in reader.read_events(tmp_path)] == list(range(1, 52))


# --- several nodes and workers ---------------------------------------------------------------------


def test_nodes_are_merged_in_time_order_and_verified_each_on_its_own(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    logs = [
        writer.AuditWriter(a, node_id="a", fsync_interval=0),
        writer.AuditWriter(a, node_id="a", worker_id=1, fsync_interval=0),
        writer.AuditWriter(b, node_id="b", fsync_interval=0),
    ]
    for second in range(30):
        logs[second % 3].record(event(second))
    for log in logs:
        log.close()
    out = io.StringIO()
    args = cli.build_parser().parse_args(["audit", "--data-dir", str(a), "--data-dir", str(b)])
    assert audit_cli.run_audit(args, out=out) == 0
    merged = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["i"] for e in merged] == list(range(30))
    assert [(e["nodeId"], e["workerId"]) for e in merged[:3]] == [("a", 0), ("a", 1), ("b", 0)]

    assert cli.main(["audit", "verify", "--data-dir", str(a), "--data-dir", str(b)]) == 0
    [first] = streams.discover(b)[0].log_files()
    kept = lines(first)
    first.write_bytes(b"".join(kept[:3] + kept[4:]))
    keys = signing.PublicKeys.from_files([a / signing.PUBLIC_KEY_FILE, b / signing.PUBLIC_KEY_FILE])
    report = integrity.verify([a, b], keys)
    assert [(s.name, s.intact) for s in report.streams] == [
        ("node a worker 0", True),
        ("node a worker 1", True),
        ("node b worker 0", False),
    ]
    assert cli.main(["audit", "verify", "--data-dir", str(a), "--data-dir", str(b)]) == 1


def test_verify_command_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "verify", "--data-dir", str(tmp_path)]) == 1  # nothing to verify
    assert f"paycrypt audit: no audit files in {tmp_path}" in capsys.readouterr().err
    write_trail(tmp_path)
    bad = tmp_path / "not-a-key.pem"
    bad.write_text("nonsense")
    assert cli.main(["audit", "verify", "--data-dir", str(tmp_path), "--public-key", str(bad)]) == 1
    assert "not-a-key.pem: not a public key" in capsys.readouterr().err
    pinned = tmp_path / signing.PUBLIC_KEY_FILE
    assert cli.main(["audit", "verify", "--data-dir", str(tmp_path), "--public-key", str(pinned)]) == 0
    assert "given with --public-key" in capsys.readouterr().out


def test_an_ecdsa_p256_signature_verifies() -> None:
    """The form a key kept in a PKCS#11 token would sign with (CKM_ECDSA over SHA-256)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys = signing.PublicKeys([pem])
    data = b"2024-07-09T10:00:00Z\nd.digest.json\nabc\nnull"
    signature = private.sign(data, ec.ECDSA(signing.hashes.SHA256()))
    name = signing.fingerprint(pem)
    assert keys.verify(name, signing.ECDSA_P256, data, signature)
    assert not keys.verify(name, signing.ECDSA_P256, data + b"x", signature)
    assert not keys.verify(name, signing.ED25519, data, signature)  # the algorithm must match the key
    with pytest.raises(ValueError):
        signing.PublicKeys(
            [
                ed25519.Ed25519PrivateKey.generate().private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ]
        )


def test_threads_rotating_many_times_leave_one_intact_chain(tmp_path: Path) -> None:
    """Digests are written outside the writer's lock; they must still chain in serial order."""
    log = writer.AuditWriter(tmp_path, node_id=NODE, max_bytes=3000, backups=1000, fsync_interval=0.01)

    def work(t: int) -> None:
        for i in range(150):
            log.record({**event(i), "thread": t})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    [found] = streams.discover(tmp_path)
    assert len(found.logs) > 50 and set(found.digests) == set(found.logs)
    status, text = verify(tmp_path)
    assert status == 0, text
    assert f"{len(found.logs)} file(s), 900 event(s), {len(found.logs)} signed digest(s): intact" in text


@pytest.mark.cli  # the example runs `paycrypt audit verify` (behind bash, which the marker check cannot see)
def test_the_operations_page_verify_example_runs_as_written(tmp_path: Path) -> None:
    """docs/operations.md's two commands, with its paths pointed at a trail written here."""
    [example] = [block for block in code_blocks(page("operations.md"), "sh") if "audit verify" in block]
    data_dir, auditor = tmp_path / "data", tmp_path / "auditor"
    auditor.mkdir()
    write_trail(data_dir)
    script = example.replace("~/.local/share/paycrypt", str(data_dir)).replace("/secure/place", str(auditor))
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "given with --public-key" in done.stdout and ": intact" in done.stdout
    assert (auditor / "node-a.pub").read_bytes() == (data_dir / signing.PUBLIC_KEY_FILE).read_bytes()


DIES_WHILE_SEALING = """
import os, signal, sys
from paycrypt.audit import digests, writer
real, calls = digests.write, []

def dying(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:  # the second rotation: the file is closed for writing, its digest not written
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

digests.write = dying
log = writer.AuditWriter(sys.argv[1], node_id="dies", max_bytes=600, fsync_interval=0)
for i in range(40):
    log.record({"eventTime": "2024-07-09T10:00:00Z", "i": i})
"""


def test_a_writer_killed_between_rotating_and_sealing_leaves_nothing_unvouched(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", DIES_WHILE_SEALING, str(tmp_path)], timeout=60)
    assert done.returncode == -signal.SIGKILL
    [dead] = streams.discover(tmp_path)
    assert sorted(dead.logs) == [1, 2, 3] and sorted(dead.digests) == [1]
    with writer.AuditWriter(tmp_path, node_id="dies", fsync_interval=0) as log:
        log.record({"eventTime": "2024-07-09T10:00:01Z", "i": 99})
    [found] = streams.discover(tmp_path)
    assert sorted(found.digests) == [1, 2, 3, 4]
    backfilled = [digests.read(found.digests[serial])[0]["backfill"] for serial in (1, 2, 3, 4)]
    assert backfilled == [False, True, True, False]
    status, text = verify(tmp_path)
    assert status == 0, text
    sequences = [e["sequence"] for _, e in reader.read_events(tmp_path)]
    assert sequences == list(range(1, len(sequences) + 1))  # no gap across the crash


def test_an_unreadable_newest_digest_does_not_stop_the_writer(tmp_path: Path) -> None:
    files = write_trail(tmp_path, count=8)
    newest = tmp_path / streams.digest_name(files[-1].name)
    newest.write_text("garbage")
    with writer.AuditWriter(tmp_path, node_id=NODE, fsync_interval=0) as log:
        log.record(event(8))
    assert f"digest {newest.name} is not a readable digest (changed)" in problems(tmp_path)
    assert [e["sequence"] for _, e in reader.read_events(tmp_path)] == list(range(1, 10))  # chain went on
