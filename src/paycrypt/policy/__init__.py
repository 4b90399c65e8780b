"""The IAM policy language: parsing, condition operators, evaluation, and what each request names.

A pure library like `crypto`: it imports nothing of paycrypt outside this package, so both the
auth layer (deciding every request) and the service layer (validating PutResourcePolicy
documents) can use it without one layer calling back into another.
"""
