"""A response leaves in one write (wire/connections.py `_OneWrite`, issue 17): uvicorn writes the
head and the body separately; the head is held and joined to the body, so the answer is one system
call, and no process death between the two can leave a client with a head and no body."""

from __future__ import annotations

from typing import Any

from paycrypt.wire.connections import _OneWrite

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorder:
    """A transport that records each write and whether it was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def one_write(transport: Recorder) -> Any:
    return _OneWrite(transport)  # type: ignore[arg-type]


def test_head_and_body_leave_in_one_write() -> None:
    transport = Recorder()
    cycle_view = one_write(transport)
    cycle_view.write(HEAD)
    assert transport.writes == []
    cycle_view.write(b"{}")
    assert transport.writes == [HEAD + b"{}"]
    assert cycle_view.is_closing() is False  # everything else is the transport's


def test_an_empty_body_still_releases_the_head() -> None:
    transport = Recorder()
    cycle_view = one_write(transport)
    cycle_view.write(HEAD.replace(b"2", b"0"))
    cycle_view.write(b"")
    assert transport.writes == [HEAD.replace(b"2", b"0")]


def test_100_continue_is_not_held() -> None:
    transport = Recorder()
    cycle_view = one_write(transport)
    cycle_view.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle_view.write(HEAD)
    cycle_view.write(b"{}")
    assert transport.writes[1:] == [HEAD + b"{}"]


def test_close_sends_a_held_head_first() -> None:
    transport = Recorder()
    cycle_view = one_write(transport)
    cycle_view.write(HEAD)
    cycle_view.close()
    assert transport.writes == [HEAD] and transport.closed
