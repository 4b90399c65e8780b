"""The one error every `paycrypt` subcommand raises for a user's mistake.

Why one type: `main` turns it into the same answer whatever the command (`paycrypt <command>:
<message>` on stderr, exit status 1), so a script driving `paycrypt` reads every failure one way.
A malformed command line stays argparse's (usage on stderr, exit status 2).
"""

from __future__ import annotations

EXIT_STATUS = 1


class CliError(Exception):
    """A command that cannot be done as asked; the message says why, naming no secret."""
