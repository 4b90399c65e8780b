"""Where a CVV2 verification spends its CPU, in process, without HTTP.

``App.handle`` is called repeatedly with one request that botocore signed, exactly as the ASGI
layer calls it. Three views, because each alone misleads:

1. CPU per ``App.handle`` call (``time.process_time``) for VerifyCardValidationData and GetKey:
   what the application costs on top of the HTTP stack;
2. each stage of the path timed on its own, without a profiler, in µs per call (cProfile's own
   overhead inflates code made of many small calls, such as the validator);
3. cProfile's top functions by own time, for the detail.

Logging is configured as ``paycrypt serve`` configures it (INFO, same format) but to /dev/null, since
``App.handle`` writes one INFO line per request and that line is part of the cost.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import logging
import os
import pstats
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import signing

from paycrypt.auth import sigv4
from paycrypt.crypto import cvv
from paycrypt.ids import uuid4_text
from paycrypt.server import Settings, build_app
from paycrypt.service import identifiers
from paycrypt.service.context import Caller, Context
from paycrypt.service.issuer import card_validation
from paycrypt.service.rules import key_usage
from paycrypt.wire.app import App

ENDPOINT = "http://127.0.0.1:8443"  # only the Host header the signature covers; nothing listens
OPERATION, MEMBER = "VerifyCardValidationData", "CardVerificationValue2"


def split_request(raw: bytes) -> tuple[str, str, str, dict[str, str], bytes]:
    """(method, raw path, query, lower-cased headers, body), as ``App.__call__`` hands them over."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    path, _, query = target.partition("?")
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    return method, path, query, headers, body


def handle_now(app: App, *request: Any) -> Any:
    """``App.handle`` run to its end on this thread. Only a CPU-heavy call (service.heavy) waits
    inside it, for a worker thread; a light one finishes in the coroutine's first step, so no
    event loop is needed and none is timed."""
    coroutine = app.handle(*request)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("App.handle waited: only light requests can be driven without an event loop")


def call(app: App, raw: bytes) -> dict[str, Any]:
    response = handle_now(app, *split_request(raw))
    if response.status != 200:
        raise RuntimeError(f"request answered {response.status}: {response.body[:300]!r}")
    return json.loads(response.body)


def cpu_us_per_call(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Best of `repeats` runs, as timeit reports: on a shared VM the slower runs measure neighbours."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - started) * 1e6 / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the best is kept")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=open(os.devnull, "w"),  # noqa: SIM115 - lives as long as the process
    )
    with tempfile.TemporaryDirectory(prefix="paycrypt-profile-") as tmp:
        app = build_app(Settings(data_dir=Path(tmp))).app
        profile(app, args)


def cvv_key(app: App) -> tuple[str, list[tuple[str, str]]]:
    """A CVK of this app's own and one (PAN, CVV2) it generated: what a verify bench replays."""
    created = call(
        app,
        signing.capture(
            "payment-cryptography",
            ENDPOINT,
            lambda sdk: sdk.create_key(KeyAttributes=signing.CVK_ATTRIBUTES, Exportable=True),
        ),
    )
    key_arn = created["Key"]["KeyArn"]
    pan = signing.luhn_pan("4000001234")
    attrs = {"CardVerificationValue2": {"CardExpiryDate": signing.EXPIRY}}
    generated = call(
        app,
        signing.capture(
            "payment-cryptography-data",
            ENDPOINT,
            lambda sdk: sdk.generate_card_validation_data(
                KeyIdentifier=key_arn, PrimaryAccountNumber=pan, GenerationAttributes=attrs
            ),
        ),
    )
    return key_arn, [(pan, generated["ValidationData"])]


def profile(app: App, args: argparse.Namespace) -> None:
    key_arn, cases = cvv_key(app)
    verify = split_request(signing.verify_requests(ENDPOINT, key_arn, cases)[0])
    get_key = split_request(signing.get_key_requests(ENDPOINT, key_arn, 1)[0])
    for _ in range(200):  # warm: unseal cache, sqlite page cache, lazily built checkers
        handle_now(app, *verify)
        handle_now(app, *get_key)

    print(f"## CPU per App.handle call ({args.calls} calls, no HTTP)\n")
    print("| request | µs CPU per call |\n|---|---:|")
    handle_us = []
    for name, request in (("VerifyCardValidationData CVV2", verify), ("GetKey", get_key)):
        handle_us.append(cpu_us_per_call(lambda r=request: handle_now(app, *r), args.calls, args.repeats))
        print(f"| {name} | {handle_us[-1]:.0f} |")

    print("\n## The CVV2 verify path, stage by stage (no profiler)\n")
    print("| stage | µs CPU per call |\n|---|---:|")
    for name, fn in stages(app, verify, key_arn, *cases[0]):
        print(f"| {name} | {cpu_us_per_call(fn, args.calls):.1f} |")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.calls):
        handle_now(app, *verify)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # The work a request does, whatever the machine's load: Python calls per App.handle.
    print(f"\nPython calls per CVV2 App.handle (cProfile): {stats.total_calls / args.calls:.0f}")  # type: ignore[attr-defined]
    print(f"\n## Share of App.handle by stage, from cProfile cumulative times ({args.calls} calls)\n")
    print("| stage | share | ≈ µs of the measured handle CPU |\n|---|---:|---:|")
    shares = cumulative_shares(stats)
    for name, share in shares.items():
        print(f"| {name} | {share:.0%} | {share * handle_us[0]:.0f} |")
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"\n## cProfile, {args.calls} CVV2 verifies, top {args.top} by own time\n")
    print("```")
    print(out.getvalue().strip())
    print("```")


# (label, file the function is in, function name): the stages of the verify path, outermost first.
CATEGORIES = [
    ("SigV4 verify", "paycrypt/auth/sigv4.py", "verify"),
    ("routing (RestJson1.route)", "paycrypt/wire/protocols/rest_json.py", "route"),
    ("JSON decode + validation (decode_and_validate)", "paycrypt/wire/pipeline.py", "decode_and_validate"),
    ("  of which validation", "paycrypt/wire/validate.py", "validate_with"),
    ("describe the request (describe)", "paycrypt/policy/requests.py", "describe"),
    ("resolve keys (resolve_request)", "paycrypt/service/identifiers.py", "resolve_request"),
    ("authorize (Authorizer.check)", "paycrypt/auth/authorize.py", "check"),
    (
        "service function (verify_card_validation_data)",
        "paycrypt/service/issuer/card_validation.py",
        "verify_card_validation_data",
    ),
    ("  of which the resolved key (resolve_key)", "paycrypt/service/identifiers.py", "resolve_key"),
    ("  of which key material (KeyCache.material)", "paycrypt/vault/keycache.py", "material"),
    ("  of which CVV2 (crypto.cvv)", "paycrypt/crypto/cvv.py", "cvv"),
    ("serialize response JSON", "paycrypt/wire/protocols/aws_json.py", "serialize"),
    ("INFO log line (logging.info)", "logging/__init__.py", "info"),
    ("request id (uuid4_text)", "paycrypt/ids.py", "uuid4_text"),
]


def cumulative_shares(stats: pstats.Stats) -> dict[str, float]:
    """Each category's cumulative time as a share of App.handle's, under the same profiler."""
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        for _, suffix, name in [*CATEGORIES, ("", "paycrypt/wire/app.py", "handle")]:
            if function == name and filename.endswith(suffix):
                cumulative[(suffix, name)] = cumulative.get((suffix, name), 0.0) + row[3]
    total = cumulative[("paycrypt/wire/app.py", "handle")]
    return {label: cumulative.get((suffix, name), 0.0) / total for label, suffix, name in CATEGORIES}


def stages(
    app: App, verify: tuple[str, str, str, dict[str, str], bytes], key_arn: str, pan: str, cvv2: str
) -> list[tuple[str, Callable[[], object]]]:
    """Each step of the pipeline and of ``verify_card_validation_data``, callable on its own."""
    method, path, query, headers, body = verify
    pipeline = app.pipeline
    protocol = next(api.protocol for api in app.apis if api.protocol.name == "rest-json")
    signed = sigv4.SignedRequest(method=method, raw_path=path, query_string=query, headers=headers, body=body)
    op, labels = protocol.route(signed)
    lookup = pipeline.credentials.lookup
    services = frozenset({protocol.signing_name})
    params = protocol.parse(op, body, labels)
    caller = sigv4.verify(signed, lookup, dt.datetime.now(dt.UTC), services)
    credential, store = caller.credential, pipeline.service.store

    shape = pipeline.requests.describe(op.name, params)

    def resolve() -> identifiers.Keys:
        return identifiers.resolve_request(store, credential.account_id, caller.region, shape.targets)

    keys = resolve()
    ctx = Context(
        caller=Caller(credential.account_id, credential.arn, credential.user_id),
        region=caller.region,
        now=pipeline.service.clock.now(),
        request_id=str(uuid.uuid4()),
        keys=keys,
    )
    record = identifiers.resolve_key(store, ctx, key_arn)
    key = pipeline.service.keycache.material(record)
    result = {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}
    log = logging.getLogger("paycrypt")
    verify_cvv = card_validation.verify_card_validation_data
    return [
        ("request id (uuid4_text)", uuid4_text),
        ("route (RestJson1.route)", lambda: protocol.route(signed)),
        ("SigV4 verify", lambda: sigv4.verify(signed, lookup, dt.datetime.now(dt.UTC), services)),
        ("JSON decode + validate (parse)", lambda: protocol.parse(op, body, labels)),
        ("JSON decode alone", lambda: json.loads(body)),
        (
            "clock + context",
            lambda: Context(ctx.caller, ctx.region, pipeline.service.clock.now(), ctx.request_id, keys),
        ),
        ("describe the request (describe)", lambda: pipeline.requests.describe(op.name, params)),
        ("resolve keys (resolve_request: the store read)", resolve),
        (
            "authorize (Authorizer.check, root fast path)",
            lambda: pipeline.authorizer.check(shape, True, credential, caller.region, keys),
        ),
        ("the resolved key (resolve_key)", lambda: identifiers.resolve_key(store, ctx, key_arn)),
        ("key material (unseal cache hit)", lambda: pipeline.service.keycache.material(record)),
        ("CVV2 (crypto.cvv)", lambda: cvv.cvv(key, pan, signing.EXPIRY, "000", len(cvv2))),
        ("key-usage rules (check_key)", lambda: key_usage.check_key(OPERATION, MEMBER, record)),
        ("whole service function", lambda: verify_cvv(pipeline.service, ctx, params)),
        ("serialize response", lambda: protocol.serialize(op, result, ctx.request_id)),
        ("INFO log line", lambda: log.info("%s %s %s %d %.1fms", "-", op.name, ctx.request_id, 200, 0.1)),
        ("datetime.now (SigV4 clock)", lambda: dt.datetime.now(dt.UTC)),
    ]


if __name__ == "__main__":
    main()
