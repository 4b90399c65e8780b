"""Every metric paycrypt exposes, defined once: name, help, labels, buckets and, for gauges, how
several worker processes' values combine.

Labels are bounded by construction: operation names come from the models, verification-failure
reasons from the model's VerificationFailedReason enum, store calls from the store protocols, quota
kinds from the throttle, jobs from the server's list. A key ARN is a label only in the per-key
families, which exist only when `--metrics-per-key` is given. No label ever carries a request
member: a PAN, PIN block or key block cannot reach one.

One process (`paycrypt serve` today): each server's families live in a registry of their own, so
several servers in one process (the tests') do not mix. Several workers: the families are built
with no registry, and prometheus_client's multiprocess values write them to files in the shared
directory (exposition.py), which the process serving /metrics reads.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Request latency, from the pipeline's first step to its audit record: a CVV2 verification takes
# about 100 µs of CPU, an RSA import up to seconds.
REQUEST_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# A store call: a record-cache hit is a few µs, a PostgreSQL round trip about a millisecond.
STORE_BUCKETS = (0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5)


class Families:
    def __init__(self, registry: CollectorRegistry | None, *, per_key: bool = False) -> None:
        """`registry`: this server's own (one process), or None (several workers: the values go to
        the multiprocess directory and are not registered anywhere in this process)."""
        self.registry = registry
        self.requests = Histogram(
            "paycrypt_request_duration_seconds",
            "Requests by operation, HTTP status and AWS error code ('none' on success), and how long "
            "the pipeline took; the _count series is the request counter.",
            ("operation", "status", "code"),
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.verification_failures = Counter(
            "paycrypt_verification_failures",
            "VerificationFailedException answers by operation and Reason.",
            ("operation", "reason"),
            registry=registry,
        )
        self.throttled = Counter(
            "paycrypt_throttled_requests",
            "Requests refused with ThrottlingException, by rate-quota kind.",
            ("kind",),
            registry=registry,
        )
        self.key_cache = Counter(
            "paycrypt_key_cache_lookups",
            "Key-material cache lookups: entry 'material' (an unsealed key) or 'derived' (what is "
            "computed from one), result 'hit' or 'miss' (a miss unseals or derives).",
            ("entry", "result"),
            registry=registry,
        )
        self.key_cache_entries = Gauge(
            "paycrypt_key_cache_entries",
            "Entries held in the key-material cache (summed over a node's workers).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.store = Histogram(
            "paycrypt_store_call_duration_seconds",
            "Store calls by protocol method, and how long each took (the store's record cache included).",
            ("call",),
            buckets=STORE_BUCKETS,
            registry=registry,
        )
        self.lease_held = Gauge(
            "paycrypt_job_lease_held",
            "1 when this node (one of its workers) holds the lease of a background job, else 0.",
            ("job",),
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.replication_backlog = Gauge(
            "paycrypt_replication_backlog_jobs",
            "Replication jobs queued in the store: state 'due' (ready to run) or 'retrying' (failed, "
            "waiting for their next attempt).",
            ("state",),
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.replication_lag = Gauge(
            "paycrypt_replication_lag_seconds",
            "How long the oldest due replication job has waited, as the replicator running it sees "
            "it (0 when none is due).",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.per_key = per_key
        if per_key:
            self.key_requests = Counter(
                "paycrypt_key_requests",
                "Requests by key used, operation and AWS error code (--metrics-per-key).",
                ("key_arn", "operation", "code"),
                registry=registry,
            )
            self.key_verification_failures = Counter(
                "paycrypt_key_verification_failures",
                "VerificationFailedException answers by key and Reason (--metrics-per-key).",
                ("key_arn", "reason"),
                registry=registry,
            )
