"""AWS Signature Version 4 (AWS4-HMAC-SHA256) verification of incoming requests.

Every AWS SDK and the AWS CLI sign each request with SigV4, so the server has to rebuild, byte for
byte, the canonical request the client hashed. The rules are those of the AWS General Reference,
"Signature Version 4 signing process" (canonical request, string to sign, signing key, signature)
and "Authenticating requests: using query parameters" (presigned URLs), in the form botocore's
``SigV4Auth`` applies them to every service except S3:

- canonical URI: the path exactly as it came over the wire, dot segments and empty segments
  removed, then percent-encoded a *second* time. botocore sends the label of
  ``/keys/alias%2Fmy-key/encrypt`` still encoded and hashes it as ``alias%252Fmy-key``, so the path
  must never be decoded before it is canonicalised.
- canonical query: names and values decoded, re-encoded per RFC 3986 (only ``A-Za-z0-9-_.~`` bare),
  sorted by name, then value.
- canonical headers: only the signed ones, lower-case names, values trimmed with inner runs of
  white space collapsed, in name order.
- payload hash: SHA-256 of the body as received. A client's ``x-amz-content-sha256`` is checked
  against it, never trusted; only the literal ``UNSIGNED-PAYLOAD`` enters the hash as sent.

Failures carry AWS's own error codes, HTTP statuses and message texts, checked in AWS's order
(as AWS's JSON-protocol services answer them; the texts are the ones the dynalite emulator
records from AWS), so an SDK reports the same error against paycrypt as against AWS.
"""

from __future__ import annotations

import hashlib
import hmac
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604_800  # seven days, the life of a SigV4 signing key
DEFAULT_SERVICES = frozenset({"payment-cryptography"})

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_ECHO = 64  # caller-supplied text quoted back in a message is cut to this many characters
_HEADER_PARAMS = ("Credential", "Signature", "SignedHeaders")
_QUERY_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)


@dataclass(frozen=True)
class SignedRequest:
    method: str
    raw_path: str  # path exactly as received on the wire, still percent-encoded
    query_string: str  # raw query string without '?', may be ''
    headers: Mapping[str, str]  # lower-cased names -> value (multiple values already joined with ',')
    body: bytes


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    account_id: str
    arn: str
    user_id: str
    # Temporary (STS) credentials only: the request must then carry this exact X-Amz-Security-Token,
    # and a request that carries a token is refused for a long-term key, as AWS does.
    session_token: str | None = None
    # Whether a policy that applies to this caller may test aws:ResourceTag / ResourceAliases: if
    # not, the authorizer need not read a key's tags or aliases for it (a shortcut, not a rule;
    # the credential store sets them from the caller's identity policies).
    reads_tags: bool = True
    reads_aliases: bool = True


@dataclass(frozen=True)
class VerifiedCaller:
    credential: Credential
    region: str  # from the credential scope
    service: str  # from the credential scope


class AuthError(Exception):
    """A request that fails authentication, with the AWS error code and HTTP status to answer it with."""

    code = "AccessDeniedException"
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingAuthenticationToken(AuthError):
    code = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignature(AuthError):
    code = "IncompleteSignatureException"
    status = 400


class UnrecognizedClient(AuthError):
    code = "UnrecognizedClientException"
    status = 403


class InvalidSignature(AuthError):
    code = "InvalidSignatureException"
    status = 403


class SignatureExpired(InvalidSignature):
    """X-Amz-Date more than 15 minutes from the server clock.

    The server time sits in the message as ``(YYYYMMDDTHHMMSSZ ± 15 min.)``: SDKs that correct
    clock skew (the JavaScript v3 and .NET SDKs among them) list this code as a skew error and
    retry with the time from the response's Date header or from that message. botocore has no
    skew correction (boto/boto3#1252) and raises it at once as a ClientError.
    """

    status = 400


class ContentSha256Mismatch(InvalidSignature):
    """x-amz-content-sha256 names a body other than the one received."""

    status = 400


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the caller asserts: the key and scope, when it signed, over which headers, the signature."""

    credential: str
    signed_headers: str
    signature: str
    amz_date: str  # ISO 8601 basic format, as it enters the string to sign
    expires: int | None  # presigned URLs only
    security_token: str | None
    presigned: bool


def verify(
    req: SignedRequest,
    lookup: Callable[[str], Credential | None],
    now: datetime,
    allowed_services: frozenset[str] = DEFAULT_SERVICES,
) -> VerifiedCaller:
    """Authenticate a request signed with AWS4-HMAC-SHA256, by header or by presigned query.

    ``now`` is the server clock (naive values are taken as UTC). Raises an AuthError subclass
    whose ``code``/``status``/``message`` are what AWS answers for the same fault.
    """
    now = _utc_seconds(now)
    query = _decode_query(req.query_string)
    claim = _claim(req, query)
    _check_clock(claim, _parse_timestamp(claim.amz_date), now)
    names = _signed_header_names(claim.signed_headers)
    key_id, date, region, service = _check_scope(claim, allowed_services)
    credential = lookup(key_id)
    if credential is None:
        raise UnrecognizedClient(INVALID_TOKEN)
    if claim.presigned:
        query = [(name, value) for name, value in query if name != "X-Amz-Signature"]
    canonical = _canonical_request(req, query, names)
    scope = f"{date}/{region}/{service}/{TERMINATOR}"
    string_to_sign = "\n".join((ALGORITHM, claim.amz_date, scope, hashlib.sha256(canonical).hexdigest()))
    key = signing_key(credential.secret_access_key, date, region, service)
    expected = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected.encode(), claim.signature.encode("utf-8", "replace")):
        raise InvalidSignature(SIGNATURE_MISMATCH)
    _check_session_token(credential, claim.security_token)
    return VerifiedCaller(credential=credential, region=region, service=service)


def _canonical_request(req: SignedRequest, query: list[tuple[str, str]], names: tuple[str, ...]) -> bytes:
    lines = (
        req.method.upper(),
        canonical_uri(req.raw_path),
        canonical_query_string(query),
        _canonical_headers(req.headers, names),
        ";".join(names),
        _payload_hash(req),
    )
    return "\n".join(lines).encode()


@lru_cache(maxsize=1024)
def canonical_uri(raw_path: str) -> str:
    """The path as SigV4 hashes it for every service but S3: normalised, then encoded again.

    Cached because data-plane paths repeat per key and quote() is the slowest step here.
    """
    return quote(_remove_dot_segments(raw_path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 dot-segment removal, plus the collapsing of empty segments AWS requires."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    lead = "/" if path[0] == "/" else ""
    trail = "/" if path[-1] == "/" and kept else ""
    return lead + "/".join(kept) + trail


def canonical_query_string(params: list[tuple[str, str]]) -> str:
    """Decoded (name, value) pairs re-encoded per RFC 3986 and sorted by name, then value."""
    if not params:
        return ""
    encoded = sorted((quote(name, safe="-_.~"), quote(value, safe="-_.~")) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_header_value(value: str) -> str:
    """SigV4's Trimall: no leading or trailing white space, inner runs collapsed to one space."""
    return " ".join(value.split())


@lru_cache(maxsize=256)
def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date, region, service and "aws4_request", keyed by "AWS4" + secret.

    Cached per (secret, date, region, service): four HMACs a request become none, and the key
    changes only daily. The cache holds derived keys only for secrets a lookup has vouched for.
    """
    key = ("AWS4" + secret_access_key).encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _utc_seconds(now: datetime) -> datetime:
    if now.tzinfo is not UTC:
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return now.replace(microsecond=0)


def _decode_query(query_string: str) -> list[tuple[str, str]]:
    if not query_string:
        return []
    pairs = []
    for item in query_string.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _claim(req: SignedRequest, query: list[tuple[str, str]]) -> _Claim:
    authorization = req.headers.get("authorization", "").strip()
    presigned = bool(query) and any(name == "X-Amz-Algorithm" for name, _ in query)
    if authorization and presigned:
        raise InvalidSignature(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
        )
    if presigned:
        return _claim_from_query(dict(query))
    # AWS treats a header that is not a SigV4 one at all (Basic, Bearer, SigV2) as no token.
    if not authorization.startswith("AWS4-"):
        raise MissingAuthenticationToken("Missing Authentication Token")
    return _claim_from_header(req, authorization)


def _claim_from_header(req: SignedRequest, authorization: str) -> _Claim:
    algorithm, _, rest = authorization.partition(" ")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            fields[name] = value.strip()
    date = req.headers.get("x-amz-date") or req.headers.get("date")
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in _HEADER_PARAMS
        if not fields.get(name)
    ]
    if not date:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise IncompleteSignature(" ".join(problems))
    _check_algorithm(algorithm)
    return _Claim(
        credential=fields["Credential"],
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=_amz_date(req.headers),
        expires=None,
        security_token=req.headers.get("x-amz-security-token"),
        presigned=False,
    )


def _claim_from_query(params: dict[str, str]) -> _Claim:
    missing = [
        f"AWS query-string parameters must include '{name}'."
        for name in _QUERY_PARAMS
        if not params.get(name)
    ]
    if missing:
        raise IncompleteSignature(" ".join([*missing, "Re-examine the query-string parameters."]))
    _check_algorithm(params["X-Amz-Algorithm"])
    return _Claim(
        credential=params["X-Amz-Credential"],
        signed_headers=params["X-Amz-SignedHeaders"],
        signature=params["X-Amz-Signature"],
        amz_date=params["X-Amz-Date"],
        expires=_parse_expires(params.get("X-Amz-Expires")),
        security_token=params.get("X-Amz-Security-Token"),
        presigned=True,
    )


def _check_algorithm(algorithm: str) -> None:
    if algorithm != ALGORITHM:
        raise IncompleteSignature(
            f"Unsupported AWS 'algorithm': '{algorithm[:_ECHO]}' (only AWS4-HMAC-SHA256 for now)."
        )


def _parse_expires(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise IncompleteSignature(f"X-Amz-Expires must be a non-negative integer, got '{value[:_ECHO]}'.")
    expires = int(value)
    if expires > MAX_PRESIGNED_EXPIRES:
        raise IncompleteSignature(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
            f"must be less than {MAX_PRESIGNED_EXPIRES} seconds"
        )
    return expires


def _amz_date(headers: Mapping[str, str]) -> str:
    """The request time in ISO 8601 basic form: X-Amz-Date as sent, or the HTTP Date converted."""
    amz_date = headers.get("x-amz-date")
    if amz_date:
        return amz_date.strip()
    http_date = headers["date"]
    try:
        parsed = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return http_date  # _parse_timestamp rejects it with AWS's message
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.strftime(_TIMESTAMP)


@lru_cache(maxsize=256)
def _parse_timestamp(value: str) -> datetime:
    """Cached: every request signed in the same second carries the same X-Amz-Date (a value that
    fails raises, and is not cached)."""
    digits = value[:8] + value[9:15]
    if len(value) == 16 and value[8] == "T" and value[15] == "Z" and digits.isascii() and digits.isdigit():
        try:
            return datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=UTC,
            )
        except ValueError:
            pass
    raise IncompleteSignature(
        f"Date must be in ISO-8601 'basic format'. Got '{value[:_ECHO]}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _check_clock(claim: _Claim, signed_at: datetime, now: datetime) -> None:
    """AWS allows 15 minutes either way; a presigned URL must also be inside its X-Amz-Expires."""
    if signed_at < now - CLOCK_SKEW:
        raise SignatureExpired(
            f"Signature expired: {claim.amz_date} is now earlier than "
            f"{_format(now - CLOCK_SKEW)} ({_format(now)} - 15 min.)"
        )
    if signed_at > now + CLOCK_SKEW:
        raise SignatureExpired(
            f"Signature not yet current: {claim.amz_date} is still later than "
            f"{_format(now + CLOCK_SKEW)} ({_format(now)} + 15 min.)"
        )
    if claim.expires is not None and now > signed_at + timedelta(seconds=claim.expires):
        raise InvalidSignature(
            f"Request has expired: signed at {claim.amz_date} for {claim.expires} seconds, "
            f"now {_format(now)}."
        )


def _format(moment: datetime) -> str:
    return moment.strftime(_TIMESTAMP)


@lru_cache(maxsize=256)
def _signed_header_names(signed_headers: str) -> tuple[str, ...]:
    """Cached: a client signs the same headers on every call of an operation (a list without
    `host` raises, and is not cached)."""
    names = tuple(sorted(name.strip().lower() for name in signed_headers.split(";") if name.strip()))
    if "host" not in names:
        raise InvalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return names


def _check_scope(claim: _Claim, allowed_services: frozenset[str]) -> tuple[str, str, str, str]:
    """Split ``keyid/date/region/service/aws4_request`` and hold each piece to AWS's rules.

    Returns the key id, date, region and service. A scope that passed is remembered (it repeats
    on every call a client signs that day); one that fails is checked again, to say why.
    """
    passed = _scope_passed(claim.credential, claim.amz_date[:8], allowed_services)
    return passed if passed is not None else _scope_refused(claim, allowed_services)


@lru_cache(maxsize=1024)
def _scope_passed(
    credential: str, day: str, allowed_services: frozenset[str]
) -> tuple[str, str, str, str] | None:
    """The scope's parts when every rule of `_scope_problems` holds, else None."""
    parts = credential.rstrip("/").split("/")
    if len(parts) != 5 or _scope_problems(parts, day, allowed_services):
        return None
    key_id, date, region, service, _ = parts
    return key_id, date, region, service


def _scope_refused(claim: _Claim, allowed_services: frozenset[str]) -> typing.NoReturn:
    """The error naming every rule the scope breaks."""
    parts = claim.credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{claim.credential[: _ECHO * 2]}'"
        )
    raise InvalidSignature(" ".join(_scope_problems(parts, claim.amz_date, allowed_services)))


def _scope_problems(parts: list[str], amz_date: str, allowed_services: frozenset[str]) -> list[str]:
    """Every rule a five-part scope breaks, in AWS's words; `amz_date` is the request's X-Amz-Date
    (or just its day, when only whether the scope passes matters)."""
    _, date, region, service, terminator = parts
    problems = []
    if not _is_region(region):
        problems.append(f"Credential should be scoped to a valid region, not '{region[:_ECHO]}'.")
    if service not in allowed_services:
        expected = " or ".join(f"'{name}'" for name in sorted(allowed_services))
        problems.append(f"Credential should be scoped to correct service: {expected}.")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator[:_ECHO]}'."
        )
    if date != amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date[:_ECHO]}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    return problems


def _is_region(region: str) -> bool:
    """A region name is lower-case letters, digits and hyphens (us-east-1, eu-central-2, local)."""
    return (
        0 < len(region) <= _ECHO
        and region.isascii()
        and region.replace("-", "").isalnum()
        and region.islower()
    )


def _canonical_headers(headers: Mapping[str, str], names: tuple[str, ...]) -> str:
    # Each line ends in "\n", and the block is followed by the blank line SigV4 puts before SignedHeaders.
    return "".join([f"{name}:{canonical_header_value(headers.get(name, ''))}\n" for name in names])


def _payload_hash(req: SignedRequest) -> str:
    actual = hashlib.sha256(req.body).hexdigest() if req.body else _EMPTY_SHA256
    claimed = req.headers.get("x-amz-content-sha256")
    if claimed is None or claimed == actual:
        return actual
    if claimed == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    raise ContentSha256Mismatch(
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def _check_session_token(credential: Credential, token: str | None) -> None:
    expected = credential.session_token
    if expected is None and token is None:
        return
    if expected is None or token is None or not hmac.compare_digest(expected.encode(), token.encode()):
        raise UnrecognizedClient(INVALID_TOKEN)
