"""What the supervisor and a worker say on their control connection (pickled: both ends are this
code, on a socket pair no other process holds). In a module of their own because the worker runs
as `__main__`, and a class pickled there could not be found by that name on the other side."""

from __future__ import annotations

from dataclasses import dataclass

from paycrypt import server


@dataclass(frozen=True)
class Start:
    settings: server.Settings
    log_level: str


@dataclass(frozen=True)
class Ready:
    lines: list[str]  # the start-up lines `paycrypt serve` prints
    audit: str  # this worker's audit file


@dataclass(frozen=True)
class Failed:
    message: str
