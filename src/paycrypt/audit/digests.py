"""A signed digest per audit log file, shaped after CloudTrail's digest files.

When a writer closes a log file (at rotation or shutdown; or, for a file whose writer died, when
the next writer of the stream starts: a *backfill* digest), it writes `….digest.json` beside it:

    {"digestVersion": "1", "nodeId", "workerId",
     "digestStartTime", "digestEndTime",             # when the file was opened and closed
     "digestPublicKeyFingerprint", "digestSignatureAlgorithm",
     "oldestEventTime", "newestEventTime",
     "previousDigestFile", "previousDigestHashValue", "previousDigestHashAlgorithm",
     "previousDigestSignature",                        # null for a stream's first digest
     "oldestRetainedLogFile",                          # the oldest file kept after this one closed
     "backfill",
     "logFiles": [{"logFile", "bytes", "hashValue", "hashAlgorithm", "events",
                   "firstSequence", "lastSequence", "firstPreviousEventHash", "lastEventHash",
                   "oldestEventTime", "newestEventTime"}]}

and its signature, in hex, in `….digest.sig` (CloudTrail keeps it in the digest object's metadata;
a sidecar file is the local equivalent, and keeps the digest's hash a plain hash of its bytes).
What is signed is CloudTrail's string to sign: the digest end time, the digest's file name, the
hex SHA-256 of the digest file, and the previous digest's hex signature, joined by newlines. The
digests of a stream chain by their previous digest's hash and signature, as CloudTrail's do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paycrypt.audit import streams
from paycrypt.audit.chain import HASH_ALGORITHM, Summary
from paycrypt.audit.signing import DigestSigner

DIGEST_VERSION = "1"


@dataclass(frozen=True)
class DigestRef:
    """What the next digest of a stream records of the one before it."""

    name: str
    hash: str
    signature: str


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def string_to_sign(
    end_time: str, digest_file: str, digest_hash: str, previous_signature: str | None
) -> bytes:
    return "\n".join((end_time, digest_file, digest_hash, previous_signature or "null")).encode()


def write(
    directory: Path,
    log_file: str,
    ident: streams.StreamId,
    summary: Summary,
    signer: DigestSigner,
    previous: DigestRef | None,
    oldest_retained: str,
    started: dt.datetime,
    backfill: bool = False,
) -> DigestRef:
    """Write and fsync the digest of `log_file` and its signature; what the next digest links to."""
    end_time = timestamp(dt.datetime.now(dt.UTC))
    body = {
        "digestVersion": DIGEST_VERSION,
        "nodeId": ident.node_id,
        "workerId": ident.worker_id,
        "digestStartTime": timestamp(started),
        "digestEndTime": end_time,
        "digestPublicKeyFingerprint": signer.fingerprint,
        "digestSignatureAlgorithm": signer.algorithm,
        "oldestEventTime": summary.oldest_event_time,
        "newestEventTime": summary.newest_event_time,
        "previousDigestFile": previous.name if previous else None,
        "previousDigestHashValue": previous.hash if previous else None,
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
        "previousDigestSignature": previous.signature if previous else None,
        "oldestRetainedLogFile": oldest_retained,
        "backfill": backfill,
        "logFiles": [
            {
                "logFile": log_file,
                "bytes": summary.bytes,
                "hashValue": summary.hash,
                "hashAlgorithm": HASH_ALGORITHM,
                "events": summary.events,
                "firstSequence": summary.first_sequence,
                "lastSequence": summary.last_sequence,
                "firstPreviousEventHash": summary.first_previous_hash,
                "lastEventHash": summary.last_event_hash,
                "oldestEventTime": summary.oldest_event_time,
                "newestEventTime": summary.newest_event_time,
            }
        ],
    }
    data = (json.dumps(body, indent=1) + "\n").encode()
    name = streams.digest_name(log_file)
    digest_hash = hashlib.sha256(data).hexdigest()
    signature = signer.sign(
        string_to_sign(end_time, name, digest_hash, previous.signature if previous else None)
    ).hex()
    streams.write_file(directory / name, data)
    streams.write_file(directory / streams.signature_name(log_file), (signature + "\n").encode())
    return DigestRef(name, digest_hash, signature)


def read(path: Path) -> tuple[dict[str, Any], bytes]:
    """A digest and its exact bytes; ValueError if it is not a digest."""
    data = path.read_bytes()
    try:
        body = json.loads(data)
    except ValueError:
        raise ValueError(f"{path.name} is not JSON") from None
    if not isinstance(body, dict) or body.get("digestVersion") != DIGEST_VERSION:
        raise ValueError(f"{path.name} is not a version {DIGEST_VERSION} audit digest")
    return body, data


def ref(path: Path, signature_path: Path) -> DigestRef:
    """How the next digest links to the digest at `path` (read back at a writer's start)."""
    data = path.read_bytes()
    return DigestRef(path.name, hashlib.sha256(data).hexdigest(), signature_path.read_text().strip())
