"""The acquirer's and switch's operations: PIN translation, MACs, data encryption, AS 2805 KEK validation."""
