"""Authentication and authorisation: who is calling (SigV4) and whether they may (IAM-style policy)."""
