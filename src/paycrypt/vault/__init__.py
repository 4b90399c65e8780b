"""The master key that protects every stored key."""
