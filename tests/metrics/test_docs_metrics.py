"""docs/metrics.md lists every metric a server exposes, with its labels, and its alert rules speak
only of metrics that exist (so a renamed family fails here, not in someone's Prometheus)."""

from __future__ import annotations

import re

import yaml
from prometheus_client import CollectorRegistry

from paycrypt.metrics.families import Families
from tests.docs_pages import code_blocks, page

PAGE = "metrics.md"


def documented() -> dict[str, tuple[str, set[str]]]:
    """Metric name → (type, labels), from the page's tables."""
    rows = re.findall(r"^\| `(paycrypt_[a-z_]+)` \| (\w+) \|([^|]*)\|", page(PAGE), re.MULTILINE)
    return {name: (kind, set(re.findall(r"`([a-z_]+)`", labels))) for name, kind, labels in rows}


def exposed() -> dict[str, tuple[str, set[str]]]:
    """Every family, per-key ones included, as prometheus_client names it in the exposition."""
    registry = CollectorRegistry()
    Families(registry, per_key=True)
    found = {}
    for family in registry.collect():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        found[name] = (family.type, set(_labels(registry, family.name)))
    return found


def _labels(registry: CollectorRegistry, name: str) -> tuple[str, ...]:
    collector = registry._names_to_collectors[name]  # the family object: its declared label names
    return tuple(collector._labelnames)


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    assert documented() == exposed()


def test_the_sample_alert_rules_parse_and_name_real_metrics() -> None:
    (rules,) = code_blocks(page(PAGE), "yaml")
    groups = yaml.safe_load(rules)["groups"]
    expressions = [rule["expr"] for group in groups for rule in group["rules"]]
    assert any("paycrypt_verification_failures_total" in expr for expr in expressions)
    names = {name for expr in expressions for name in re.findall(r"paycrypt_[a-z_]+", expr)}
    series = set(exposed()) | {
        f"{name}{suffix}"
        for name, (kind, _) in exposed().items()
        if kind == "histogram"
        for suffix in ("_count", "_sum", "_bucket")
    }
    assert names <= series, names - series
