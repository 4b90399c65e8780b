"""The AWS wire protocols, driven by the botocore service models."""
