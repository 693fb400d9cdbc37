"""N concurrent waits with the unmodified async client of `anaplan-sdk` (0.5.22).

Usage: python sdk_waiter.py ADDR FIRST N WORKSPACE ACTION USER PASSWORD
Runs action ACTION on models FIRST .. FIRST+N-1 (32 uppercase hex digits each) at once,
each `run_action` polling until the task completes (the client's own loop, every
`status_poll_delay` = 1 s, its default), all through one `AsyncClient` (`with_model`
shares its HTTP client and pool). Prints one JSON line: the outcomes.

anaplan-sdk hard-codes Anaplan's hosts; a transport rewrites every request's scheme,
host and port to the simulator's (as crates/sim/tests/anaplan_sdk_client.py does, async
here). Its login does not use that transport, so the token is fetched with the login
of the simulator's own anaplan-sdk test.
"""

import asyncio
import json
import pathlib
import sys

import anaplan_sdk
import httpx2

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "sim" / "tests"))
from anaplan_sdk_client import login  # noqa: E402  (the path is set just above)


class ToSimulator(httpx2.AsyncHTTPTransport):
    def __init__(self, host: str, port: int):
        super().__init__()
        self._host = host
        self._port = port

    async def handle_async_request(self, request):
        request.url = request.url.copy_with(scheme="http", host=self._host, port=self._port)
        return await super().handle_async_request(request)


async def main() -> None:
    addr, first, n, workspace, action, user, password = sys.argv[1:8]
    first, n = int(first), int(n)
    host, port = addr.rsplit(":", 1)
    token = login(f"http://{addr}", user, password)
    client = anaplan_sdk.AsyncClient(
        workspace_id=workspace,
        token=token,
        transport=ToSimulator(host, int(port)),
    )
    waits = [
        client.with_model(f"{i:032X}").run_action(int(action)) for i in range(first, first + n)
    ]
    results = await asyncio.gather(*waits, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    print(json.dumps({"succeeded": n - len(failed), "failed": len(failed),
                      "first_error": repr(failed[0]) if failed else None}))


if __name__ == "__main__":
    asyncio.run(main())
