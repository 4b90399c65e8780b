"""Keys: the lifecycle of a key and what hangs off it (aliases, tags, resource policies), and the
Key shapes the API returns.
"""
