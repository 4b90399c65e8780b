"""Multi-region replication: the regions a key is replicated to and the state each key record carries."""
