"""The rules tables: which attribute combinations a key may have, which keys each operation
accepts, which KCV each key computes.
"""
