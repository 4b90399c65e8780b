"""The AWS Regions a paycrypt deployment serves.

One deployment serves every configured region: the region of a request is the one in its SigV4
credential scope, and it appears in every ARN. The default list is the 15 regions of the guide's
endpoint tables (seed-F §3.1), the same for the control and the data plane.
"""

from __future__ import annotations

import re

DEFAULT_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "af-south-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
)

# The model's Region pattern ([a-z]{2}-[a-z]{1,16}-[0-9]+), matched against the whole name.
REGION_PATTERN = re.compile(r"[a-z]{2}-[a-z]{1,16}-[0-9]+")


def parse(text: str) -> tuple[str, ...]:
    """A comma- or space-separated list of region names, checked and without repeats."""
    names = [name for name in re.split(r"[,\s]+", text.strip()) if name]
    if not names:
        raise ValueError("the region list is empty")
    bad = [name for name in names if not REGION_PATTERN.fullmatch(name)]
    if bad:
        raise ValueError(f"not a region name: {bad[0]!r}")
    return tuple(dict.fromkeys(names))
