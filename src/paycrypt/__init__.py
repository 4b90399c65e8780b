"""paycrypt: a self-hosted payment cryptography service that speaks the AWS Payment Cryptography API."""

__version__ = "0.1.0"
