"""Checking an audit trail: each stream's hash chain, its digests and their signatures.

`verify` (run by `paycrypt audit verify`, cli/audit.py) reads one or more data directories (one
per node) and reports, per stream (node and worker), every sign of tampering it finds:

- an event removed (a gap in the stream's sequence), changed (the next event links to another
  hash, or the file's digest holds another last hash), reordered (a sequence lower than one
  before it), duplicated, or a line that is not an event (changed, or torn by a full disk);
- a log file removed (a serial missing between the oldest file the newest digest says is kept and
  the newest file), changed or truncated since its digest (its size or SHA-256 differs);
- a digest removed (the next digest names it, or a closed file has none), changed (its hash is
  not the one the next digest records), or whose signature fails or was made by a key that is not
  trusted.

Not tampering, and said so: files written before the chain existed (`audit.jsonl*`: *unchained*,
their events cannot be checked), the file a writer is still writing (no digest yet: its events
are chained but its end is not yet vouched for), and files deleted by rotation (older than the
oldest file the newest digest keeps).

What cannot be seen locally: the newest files deleted together with their digests while no
writer runs (the chain's end is wherever the files stop), and events cut from the end of a file
whose writer died, before the next writer backfilled its digest. Copy the digests off the host, as
CloudTrail's live in S3, to see that too (docs/decisions/audit.md).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paycrypt.audit import chain, digests, streams
from paycrypt.audit.signing import PublicKeys


@dataclass
class StreamReport:
    name: str
    files: int = 0
    events: int = 0
    digests: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        verdict = "intact" if self.intact else f"TAMPERED ({len(self.problems)} problem(s))"
        counts = f"{self.files} file(s), {self.events} event(s), {self.digests} signed digest(s)"
        head = f"{self.name}: {counts}: {verdict}"
        return [
            head,
            *(f"  problem: {text}" for text in self.problems),
            *(f"  note: {text}" for text in self.notes),
        ]


@dataclass
class Report:
    streams: list[StreamReport] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return all(stream.intact for stream in self.streams)


@dataclass(frozen=True)
class _Seen:
    """One chained event as found: where, its hash, what it links to."""

    sequence: int
    hash: str
    previous: str | None
    where: str


def verify(directories: Iterable[Path], keys: PublicKeys) -> Report:
    report = Report()
    for directory in directories:
        for found in streams.discover(directory):
            report.streams.append(_verify_stream(found, keys))
        legacy = streams.legacy_files(directory / streams.LEGACY_FILE_NAME)
        if legacy:
            report.streams.append(_legacy(directory, legacy))
    return report


def _legacy(directory: Path, files: list[Path]) -> StreamReport:
    result = StreamReport(f"{directory / streams.LEGACY_FILE_NAME}*", files=len(files))
    result.events = sum(1 for path in files for line in chain.read_lines(path) if line.event is not None)
    result.notes.append("unchained: written before the audit chain existed; its events cannot be verified")
    return result


def _verify_stream(found: streams.Stream, keys: PublicKeys) -> StreamReport:
    result = StreamReport(str(found.ident), files=len(found.logs))
    checked = _check_digests(found, keys, result)
    oldest_kept = _oldest_kept(found, checked)
    newest = max(found.serials())
    for serial in range(oldest_kept, newest + 1):
        name = streams.log_name(found.ident.node_id, found.ident.worker_id, serial)
        if serial not in found.logs:
            held = " (its digest remains)" if serial in found.digests else ""
            result.problems.append(f"log file {name} removed{held}")
        elif serial not in found.digests and serial != newest:
            result.problems.append(f"digest of {name} removed")
    for serial in sorted(found.digests):
        if serial < oldest_kept and serial not in found.logs:
            result.notes.append(f"digest {found.digests[serial].name} outlived its file, deleted by rotation")
    seen: list[_Seen] = []
    for serial in sorted(found.logs):
        _check_file(found, serial, checked.get(serial), seen, result)
        if serial == newest and serial not in found.digests:
            result.notes.append(
                f"{found.logs[serial].name} has no digest yet: being written, or its writer died"
            )
    _check_chain(seen, result)
    result.events = len(seen)
    result.digests = sum(1 for body in checked.values() if body.get("_signed"))
    return result


def _check_digests(
    found: streams.Stream, keys: PublicKeys, result: StreamReport
) -> dict[int, dict[str, Any]]:
    """Each digest read, its signature checked, its link to the digest before it checked."""
    checked: dict[int, dict[str, Any]] = {}
    raw: dict[int, tuple[bytes, str]] = {}
    for serial in sorted(found.digests):
        path = found.digests[serial]
        try:
            body, data = digests.read(path)
            [entry] = body["logFiles"]
        except (ValueError, KeyError, TypeError):
            result.problems.append(f"digest {path.name} is not a readable digest (changed)")
            continue
        expected = streams.log_name(found.ident.node_id, found.ident.worker_id, serial)
        if entry.get("logFile") != expected:
            result.problems.append(f"digest {path.name} names {entry.get('logFile')!r}, not {expected}")
        signature = _signature(found, serial, result)
        digest_hash = hashlib.sha256(data).hexdigest()
        body["_signed"] = signature is not None and _signature_holds(
            body, path.name, digest_hash, signature, keys, result
        )
        checked[serial] = body
        raw[serial] = (data, signature.hex() if signature is not None else "")
    oldest_kept = _oldest_kept(found, checked)
    for serial, body in checked.items():
        previous = body.get("previousDigestFile")
        if previous is None:
            if any(other < serial for other in checked):
                result.problems.append(f"digest {found.digests[serial].name} starts a new digest chain")
            continue
        parsed = streams.parse_name(str(previous))
        if parsed is None or parsed[0] != found.ident:
            result.problems.append(
                f"digest {found.digests[serial].name} links to {previous!r}, not a digest of this stream"
            )
            continue
        before = parsed[1]
        if before in raw:
            data, signature_hex = raw[before]
            if body.get("previousDigestHashValue") != hashlib.sha256(data).hexdigest():
                result.problems.append(f"digest {previous} changed: the next digest holds another hash of it")
            if body.get("previousDigestSignature") != signature_hex:
                result.problems.append(
                    f"signature of digest {previous} changed: the next digest holds another"
                )
        elif before >= oldest_kept:
            result.problems.append(f"digest {previous} removed: {found.digests[serial].name} links to it")
    return checked


def _signature(found: streams.Stream, serial: int, result: StreamReport) -> bytes | None:
    path = found.signatures.get(serial)
    name = found.digests[serial].name
    if path is None:
        result.problems.append(f"signature of digest {name} removed")
        return None
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError:
        result.problems.append(f"signature of digest {name} is not hex (changed)")
        return None


def _signature_holds(
    body: dict[str, Any],
    name: str,
    digest_hash: str,
    signature: bytes,
    keys: PublicKeys,
    result: StreamReport,
) -> bool:
    fingerprint = str(body.get("digestPublicKeyFingerprint"))
    if fingerprint not in keys:
        result.problems.append(f"digest {name} was signed by key {fingerprint}, which is not trusted")
        return False
    data = digests.string_to_sign(
        str(body.get("digestEndTime")), name, digest_hash, body.get("previousDigestSignature")
    )
    if not keys.verify(fingerprint, str(body.get("digestSignatureAlgorithm")), data, signature):
        result.problems.append(f"digest {name}: its signature fails (the digest or its signature changed)")
        return False
    return True


def _oldest_kept(found: streams.Stream, checked: dict[int, dict[str, Any]]) -> int:
    """The oldest serial the newest digest says is kept (else the oldest file present)."""
    for serial in sorted(checked, reverse=True):
        parsed = streams.parse_name(str(checked[serial].get("oldestRetainedLogFile")))
        if parsed is not None and parsed[0] == found.ident:
            return parsed[1]
    return min(found.logs, default=min(found.serials()))


def _check_file(
    found: streams.Stream, serial: int, body: dict[str, Any] | None, seen: list[_Seen], result: StreamReport
) -> None:
    path = found.logs[serial]
    file_hash = hashlib.sha256()
    last: chain.Line | None = None
    count = 0
    for line in chain.read_lines(path, file_hash):
        where = f"{path.name}:{line.number}"
        if line.event is None:
            result.problems.append(f"{where} is not a whole JSON event (changed, or torn)")
            continue
        if not line.chained or line.sequence is None:
            result.problems.append(f"{where} is an event without the chain's members (inserted)")
            continue
        if (line.event.get("nodeId"), line.event.get("workerId")) != (
            found.ident.node_id,
            found.ident.worker_id,
        ):
            result.problems.append(f"{where} names another node or worker than its file")
        seen.append(_Seen(line.sequence, line.hash, line.previous, where))
        last = line
        count += 1
    if body is None:
        return
    [entry] = body["logFiles"]
    size, digested = path.stat().st_size, entry.get("bytes")
    if size != digested or file_hash.hexdigest() != entry.get("hashValue"):
        how = {True: "truncated", False: "grew"}.get(size < (digested or 0)) if size != digested else None
        result.problems.append(
            f"{path.name} {how} since its digest ({size} bytes, {digested} digested)"
            if how
            else f"{path.name} changed since its digest (same size, another SHA-256)"
        )
    if count != entry.get("events") or (last.sequence if last else None) != entry.get("lastSequence"):
        result.problems.append(
            f"{path.name} holds {count} event(s) ending at sequence {last.sequence if last else None}; "
            f"its digest, {entry.get('events')} ending at {entry.get('lastSequence')}"
        )
    elif last is not None and last.hash != entry.get("lastEventHash"):
        result.problems.append(
            f"{path.name}:{last.number}, the file's last event, changed (its digest holds another hash)"
        )


def _check_chain(seen: list[_Seen], result: StreamReport) -> None:
    """Sequence gaps (removed), sequences going back (reordered), twice (duplicated), broken links
    (changed), over the stream's events in the order found."""
    by_sequence: dict[int, _Seen] = {}
    highest: _Seen | None = None
    for event in seen:
        first = by_sequence.get(event.sequence)
        if first is not None:
            result.problems.append(f"{event.where}: sequence {event.sequence} again (first at {first.where})")
            continue
        by_sequence[event.sequence] = event
        if highest is not None and event.sequence < highest.sequence:
            result.problems.append(
                f"{event.where}: event {event.sequence} out of order (after event {highest.sequence} at "
                f"{highest.where}): reordered"
            )
        if highest is None or event.sequence > highest.sequence:
            highest = event
    if not by_sequence:
        return
    ordered = sorted(by_sequence)
    for before, after in itertools.pairwise(ordered):
        if after != before + 1:
            count = after - before - 1
            result.problems.append(
                f"{count} event(s) removed: sequence {before + 1}"
                + (f" to {after - 1}" if count > 1 else "")
                + f", between {by_sequence[before].where} and {by_sequence[after].where}"
            )
        elif by_sequence[after].previous != by_sequence[before].hash:
            result.problems.append(
                f"{by_sequence[before].where}: event {before} changed "
                f"(event {after} at {by_sequence[after].where} links to another hash)"
            )
