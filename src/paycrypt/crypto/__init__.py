"""Pure cryptographic functions named after their standards: bytes in, bytes out, no paycrypt imports."""
