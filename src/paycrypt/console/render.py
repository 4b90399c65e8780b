"""Pages: Jinja2 templates shipped in the package, autoescaped (every value a user or the API
supplied is text, never markup)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

PREFIX = "/console"


def _when(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


@functools.cache
def environment() -> Any:
    """The templates' environment, built on the first page served: Jinja2 costs a server's start-up
    about 0.15 s of CPU, and most servers never serve a page."""
    import jinja2  # here, not at the top: only a console request needs it (see above)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("paycrypt.console", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # optional API members (PrimaryRegion, …) render empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
    env.filters["short_arn"] = lambda arn: str(arn).rsplit("/", 1)[-1]
    env.globals["prefix"] = PREFIX
    return env


def page(template: str, **values: Any) -> bytes:
    return environment().get_template(template).render(**values).encode()
