"""Background jobs the server runs beside the request path: the replicator and the purge sweeper."""
