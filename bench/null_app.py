"""The floor: an ASGI app that answers every request 200 '{}' and does nothing else.

It reads the body and sends the same two ASGI messages, with the same headers, as paycrypt's
``App.__call__``, so served by the same stack with the same settings it measures what the HTTP
server, the event loop and the ASGI hop cost on their own. Run directly, it is served by uvicorn
with paycrypt's own ``uvicorn_config`` (the settings ``paycrypt serve`` uses).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"x-amzn-requestid", b"null")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def main() -> None:
    import uvicorn

    from paycrypt.server import Settings, uvicorn_config

    parser = argparse.ArgumentParser(description="serve the null app with paycrypt's uvicorn settings")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.Server(uvicorn_config(app, Settings(port=args.port))).run()  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
