"""Prometheus metrics: the families (families.py), what the request path records (meter.py), the
store's calls timed (store_timing.py), the gauges read from the jobs (sampling.py), the /metrics
port and the directory several worker processes share (exposition.py), and the wiring of all of
it into a server's parts (wiring.py).

It sits beside wire/ and jobs/: server.py builds it and hands the layers below plain callables
(the key cache's hit and miss counters, the throttle's refusal counter) or an object they type by a
protocol of their own (the pipeline's meter), so nothing below imports prometheus_client.
"""
