"""The audit trail: CloudTrail-shaped events (events), their durable log (writer) and its reader."""
