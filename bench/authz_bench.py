"""What authorization costs on the data-plane hot path, in process, without HTTP.

``App.handle`` on a pre-signed CVV2 verification (the request of profile_cvv.py), for each kind
of caller, with the real authorizer and with a null one (``check`` returns at once), interleaved
run by run so that both see the same machine; the difference is the cost of the request path's
authorization. Then the pipeline's description of the request, its key resolution and
``Authorizer.check`` alone, in µs per call.

Callers: the root user (the development default's kind; fast path), the root user once some key
has a resource policy (full resolution and evaluation), a user with the guide's P-2 policy
(``payment-cryptography:*`` on ``*``), and a user allowed only keys tagged Project=X.

    /work/.venv-dev/bin/python bench/authz_bench.py --calls 20000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import signing
from profile_cvv import ENDPOINT, call, cpu_us_per_call, handle_now, split_request

from paycrypt.auth.iam_file import AccessKey, IamFile, PolicyEntry, PrincipalEntry
from paycrypt.server import Settings, build_app
from paycrypt.service import identifiers
from paycrypt.wire.app import App

ACCOUNT = "111122223333"
P2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "payment-cryptography:*", "Resource": "*"}],
}
TAGGED = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "payment-cryptography:VerifyCardValidationData",
                "payment-cryptography:GenerateCardValidationData",
            ],
            "Resource": f"arn:aws:payment-cryptography:*:{ACCOUNT}:key/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/Project": "X"}},
        }
    ],
}
USERS = {"full": P2, "tagged": TAGGED}


class NullAuthorizer:
    """Allows everything, and hands on every key the pipeline resolved."""

    def check(self, shape: Any, data_plane: bool, credential: Any, region: str, keys: Any, *rest: Any) -> Any:
        return keys


def credentials(path: Path) -> Path:
    document = IamFile(
        [
            PrincipalEntry("user", ACCOUNT, "root", root=True, access_keys=[AccessKey("test", "test")]),
            *(
                PrincipalEntry(
                    "user",
                    ACCOUNT,
                    name,
                    access_keys=[AccessKey(f"AKIABENCH{name.upper()}", f"{name}-secret")],
                    policies=[PolicyEntry("p", document=json.dumps(policy))],
                )
                for name, policy in USERS.items()
            ),
        ]
    )
    document.save(path)
    return path


def signed_as(access_key: str, secret: str, make: Any) -> Any:
    saved = signing.ACCESS_KEY, signing.SECRET_KEY
    signing.ACCESS_KEY, signing.SECRET_KEY = access_key, secret
    try:
        return make()
    finally:
        signing.ACCESS_KEY, signing.SECRET_KEY = saved


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
    with tempfile.TemporaryDirectory(prefix="paycrypt-authz-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", credentials_file=credentials(Path(tmp) / "c.toml"))
        app = build_app(settings).app
        run(app, args)


def run(app: App, args: argparse.Namespace) -> None:
    key_arn = call(
        app,
        signing.capture(
            "payment-cryptography",
            ENDPOINT,
            lambda sdk: sdk.create_key(
                KeyAttributes=signing.CVK_ATTRIBUTES, Exportable=True, Tags=[{"Key": "Project", "Value": "X"}]
            ),
        ),
    )["Key"]["KeyArn"]
    pan = signing.luhn_pan("4000001234")
    attrs = {"CardVerificationValue2": {"CardExpiryDate": signing.EXPIRY}}
    value = call(
        app,
        signing.capture(
            "payment-cryptography-data",
            ENDPOINT,
            lambda sdk: sdk.generate_card_validation_data(
                KeyIdentifier=key_arn, PrimaryAccountNumber=pan, GenerationAttributes=attrs
            ),
        ),
    )["ValidationData"]
    requests = {"root": split_request(signing.verify_requests(ENDPOINT, key_arn, [(pan, value)])[0])}
    for name in USERS:
        requests[name] = split_request(
            signed_as(
                f"AKIABENCH{name.upper()}",
                f"{name}-secret",
                lambda: signing.verify_requests(ENDPOINT, key_arn, [(pan, value)])[0],
            )
        )
    real, null = app.pipeline.authorizer, NullAuthorizer()
    for request in requests.values():
        for _ in range(300):
            handle_now(app, *request)

    def measure(label: str, request: tuple) -> None:
        with_real, with_null = [], []
        for _ in range(args.rounds):
            app.pipeline.authorizer = real
            with_real.append(cpu_us_per_call(lambda r=request: handle_now(app, *r), args.calls, repeats=1))
            app.pipeline.authorizer = null  # type: ignore[assignment]
            with_null.append(cpu_us_per_call(lambda r=request: handle_now(app, *r), args.calls, repeats=1))
        app.pipeline.authorizer = real
        deltas = [a - b for a, b in zip(with_real, with_null, strict=True)]
        print(
            f"| {label} | {min(with_real):.0f} | {min(with_null):.0f} | {statistics.median(deltas):.1f} "
            f"| {min(deltas):.1f} |"
        )

    print(f"## App.handle, CVV2 verify, µs CPU per call ({args.calls} calls × {args.rounds} rounds)\n")
    print("| caller | with authorization (best) | null authorizer (best) | Δ median | Δ best |")
    print("|---|---:|---:|---:|---:|")
    measure("root user (development default)", requests["root"])
    measure("user with P-2 (`payment-cryptography:*`)", requests["full"])
    measure("user allowed Project=X keys (tag condition)", requests["tagged"])
    other = call(
        app,
        signing.capture(
            "payment-cryptography",
            ENDPOINT,
            lambda sdk: sdk.create_key(KeyAttributes=signing.CVK_ATTRIBUTES, Exportable=True),
        ),
    )["Key"]["KeyArn"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "444455556666"},
                    "Action": "payment-cryptography:*",
                    "Resource": "*",
                }
            ],
        }
    )
    call(
        app,
        signing.capture(
            "payment-cryptography",
            ENDPOINT,
            lambda sdk: sdk.put_resource_policy(ResourceArn=other, Policy=policy),
        ),
    )
    measure("root user, some key has a resource policy", requests["root"])

    rounds = f"best of {args.rounds} × {args.calls}"
    print(f"\n## describe + key resolution + Authorizer.check, µs CPU per call ({rounds})\n")
    print("| caller | no key has a resource policy | some key has one |\n|---|---:|---:|")
    params = {
        "KeyIdentifier": key_arn,
        "PrimaryAccountNumber": pan,
        "VerificationAttributes": attrs,
        "ValidationData": value,
    }
    callers = {
        "root user": "test",
        "user with P-2": "AKIABENCHFULL",
        "user allowed Project=X": "AKIABENCHTAGGED",
    }
    with_policy = {name: check_us(app, params, access_key, args) for name, access_key in callers.items()}
    call(
        app,
        signing.capture(
            "payment-cryptography", ENDPOINT, lambda sdk: sdk.delete_resource_policy(ResourceArn=other)
        ),
    )
    for name, access_key in callers.items():
        print(f"| {name} | {check_us(app, params, access_key, args):.1f} | {with_policy[name]:.1f} |")


def check_us(app: App, params: dict[str, Any], access_key: str, args: argparse.Namespace) -> float:
    """Describing the request, resolving its keys and the check: what the request path spends on
    authorization (before the pipeline resolved keys, ``check`` did all three itself, so this is
    the figure to compare with)."""
    credential = app.pipeline.credentials.lookup(access_key)
    pipeline = app.pipeline
    authorizer, store, describe = pipeline.authorizer, pipeline.service.store, pipeline.requests.describe

    def check() -> None:
        shape = describe("VerifyCardValidationData", params)
        keys = identifiers.resolve_request(store, credential.account_id, signing.REGION, shape.targets)
        authorizer.check(shape, True, credential, signing.REGION, keys, "127.0.0.1")

    return cpu_us_per_call(check, args.calls, repeats=args.rounds)


if __name__ == "__main__":
    main()
