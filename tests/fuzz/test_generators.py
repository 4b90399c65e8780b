"""The fuzz generators do what they claim: `valid` honours every constraint of the model (the
server's own validator accepts it), `from_regex` matches every pattern of both models, `broken`
and mutated requests are refused by that validator far more often than not, and a seed gives
the same requests every time. Without these, a fuzz run that finds nothing could be a fuzz run
that never reached the code behind the validator."""

from __future__ import annotations

import random
import re

import pytest

from paycrypt.service.rules import combinations
from paycrypt.wire import models, validate
from paycrypt.wire.operations import compile_model
from paycrypt.wire.protocols.aws_json import decode_body
from tests.fuzz import gen
from tests.fuzz.pool import ROOT, TRUSTED, Pool
from tests.fuzz.sender import Signer
from tests.fuzz.strategies import Strategies, dumps

ARN = "arn:aws:payment-cryptography:us-east-1:111122223333:key/"
MODELS = models.load()
OPERATIONS = [op for plane, model in MODELS.planes for op in compile_model(plane, model).values()]
DRAWS = 40


def _pool() -> Pool:
    usages = [*combinations.RULES, ROOT, TRUSTED]
    keys = {usage: (f"{ARN}{index:016d}",) for index, usage in enumerate(usages)}
    certificate = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
    return Pool(
        account="111122223333",
        region="us-east-1",
        regions=("us-east-1", "us-west-2"),
        keys=keys,
        aliases=("alias/fuzz-a",),
        victims=(f"{ARN}victim0000000000",),
        victim_aliases=("alias/fuzz-victim-0",),
        certificates=(certificate,),
        import_tokens=("import-token-abcdefghijklmnop",),
        export_tokens=("export-token-abcdefghijklmnop",),
    )


@pytest.fixture(scope="module")
def strategies() -> Strategies:
    return Strategies(_pool(), MODELS, OPERATIONS)


def _patterns() -> list[str]:
    return sorted(
        {
            service.shape_for(name).metadata["pattern"]
            for service in MODELS.services
            for name in service.shape_names
            if "pattern" in service.shape_for(name).metadata
        }
    )


@pytest.mark.parametrize("pattern", _patterns())
def test_from_regex_matches_every_model_pattern(pattern: str) -> None:
    rnd = random.Random(pattern)
    made = gen.from_regex(pattern)
    for _ in range(50):
        assert re.fullmatch(pattern, made.draw(rnd))


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_valid_requests_pass_the_servers_validator(strategies: Strategies, op) -> None:
    rnd = random.Random(op.name)
    valid = strategies.valid(op.name, "", op.input_shape)
    for _ in range(DRAWS):
        params = valid.draw(rnd)
        assert validate.validate_with(op.check, params)[1] is None, params


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_broken_requests_are_invalid_or_hostile(strategies: Strategies, op) -> None:
    """A draw of `broken` is refused by the validator (or by JSON itself), or carries what the
    validator lets through on purpose: an unknown member, an explicit null, a huge string or text
    outside printable ASCII. A few near misses (a character swapped for one the pattern allows)
    are neither."""
    rnd = random.Random(op.name)
    broken = strategies.broken(op.name, "", op.input_shape)
    refused = tame = 0
    for _ in range(DRAWS):
        try:
            params = broken.draw(rnd)
        except gen.Rejected:
            continue
        try:
            decoded = decode_body(dumps(params))
        except Exception:  # not JSON Python reads, or not an object: refused before validation
            refused += 1
            continue
        if validate.validate_with(op.check, decoded)[1] is not None:
            refused += 1
        elif not _hostile(op.input_shape, decoded):
            tame += 1
    if op.input_shape.members:  # else only unknown members can be wrong, and those are ignored
        assert refused >= DRAWS // 4, f"{op.name}: only {refused} of {DRAWS} broken requests were refused"
    assert tame <= DRAWS // 10, (
        f"{op.name}: {tame} of {DRAWS} broken requests were neither invalid nor hostile"
    )


def _hostile(shape, value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return len(value) > 4096 or not all(" " <= c <= "~" for c in value)
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return any(name not in members or _hostile(members[name], item) for name, item in value.items())
    if shape.type_name == "list" and isinstance(value, list):
        return any(_hostile(shape.member, item) for item in value)
    if shape.type_name == "map" and isinstance(value, dict):
        return any(_hostile(shape.key, k) or _hostile(shape.value, v) for k, v in value.items())
    return False


def test_a_seed_gives_the_same_requests(strategies: Strategies) -> None:
    signer = Signer("127.0.0.1", 9)

    def bodies(seed: int) -> list[bytes]:
        rnd = random.Random(seed)
        return [signer.encode(strategies.call(op).draw(rnd)).body for op in OPERATIONS]

    assert bodies(5) == bodies(5)
    assert bodies(5) != bodies(6)
