"""Runs a process with the unmodified third-party client `anaplan-sdk` against a simulator.

Usage: python anaplan_sdk_client.py BASE_URL WORKSPACE_ID MODEL_ID PROCESS_ID USER PASSWORD
Prints one JSON line: the final task status as the client read it.

anaplan-sdk hard-codes Anaplan's hosts. Its API client passes extra keyword arguments to
its `httpx2.Client`, so a transport that rewrites every request's scheme, host and port
sends the API calls to the simulator. Its own login does not use that transport, so the
token is fetched here and handed over with `token=`.
"""

import base64
import json
import sys
import urllib.parse
import urllib.request

import anaplan_sdk
import httpx2


class ToSimulator(httpx2.HTTPTransport):
    def __init__(self, base_url: str):
        super().__init__()
        self._base = urllib.parse.urlsplit(base_url)

    def handle_request(self, request):
        request.url = request.url.copy_with(
            scheme=self._base.scheme, host=self._base.hostname, port=self._base.port
        )
        return super().handle_request(request)


def login(base_url: str, user: str, password: str) -> str:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        f"{base_url}/token/authenticate",
        method="POST",
        headers={"Authorization": f"Basic {credentials}"},
    )
    # Loopback only: never go through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request) as response:
        return json.load(response)["tokenInfo"]["tokenValue"]


def main() -> None:
    base_url, workspace, model, process, user, password = sys.argv[1:7]
    token = login(base_url, user, password)
    client = anaplan_sdk.Client(
        workspace_id=workspace,
        model_id=model,
        token=token,
        transport=ToSimulator(base_url),
    )
    task = client.run_action(int(process))
    status = client.get_task_status(int(process), task.id)
    print(
        json.dumps(
            {
                "taskId": status.id,
                "taskState": status.task_state,
                "progress": status.progress,
                "successful": status.result.successful,
                "nested": len(status.result.nested_results),
            }
        )
    )


if __name__ == "__main__":
    main()
