"""The `paycrypt` command and its subcommands."""
