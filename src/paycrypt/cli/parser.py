"""The command line's parser: argparse's, except that its errors never repeat an option's value.

argparse names the offending argument in full when it cannot place it: `--pkcs11-p=1234` is an
ambiguous abbreviation of three options and `--pkcs11-pn=1234` an unknown one, and both messages
would print the PIN a custodian mistyped onto the terminal and into whatever captures stderr. The
value after `=` is replaced; the option's name is enough to say what went wrong. Subcommands'
parsers are of this class too (argparse makes them with the parent's class), and abbreviations are
refused outright, so a prefix can never silently stand for the PIN options either.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

_OPTION_VALUE = re.compile(r"(--[\w-]+)=\S+")


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(_OPTION_VALUE.sub(r"\1=…", message))
