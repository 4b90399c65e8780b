"""Persistent state behind one interface: keys, aliases and tags."""
