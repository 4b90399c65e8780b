"""Multi-party approval: MPA teams and the operations that wait for their votes."""
