"""Pages: Jinja2 templates shipped in the package, autoescaped (every value a user or the API
supplied is text, never markup)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jinja2

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("paycrypt.console", "templates"),
    autoescape=True,
    undefined=jinja2.ChainableUndefined,  # optional API members (PrimaryRegion, …) render empty
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


ENV.filters["when"] = _when
ENV.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
ENV.filters["short_arn"] = lambda arn: str(arn).rsplit("/", 1)[-1]


def page(template: str, **values: Any) -> bytes:
    return ENV.get_template(template).render(**values).encode()
