"""Drive a Modelship server with the real kserve Python client, as a KServe user would.

Usage: python kserve_compat.py BASE_URL TOKEN

The server must serve test/fixtures/models/tiny.onnx as model "tiny" with bearer-token auth on
and TOKEN among its tokens. Every check is an assert; on success one JSON line with the number
of checks is printed and the exit code is 0.
"""

import asyncio
import json
import sys

import httpx
from kserve import InferenceRESTClient, RESTConfig

URL = sys.argv[1]
AUTH = {"Authorization": f"Bearer {sys.argv[2]}"}
MODEL = "tiny"
ROW = [5.1, 3.5, 1.4, 0.2]
checks = 0


def check(condition, what):
    """Assert with a message, and count the check."""
    global checks
    assert condition, what
    checks += 1


async def status_of(call):
    """The HTTP status an httpx.HTTPStatusError carries, or None when the call succeeded."""
    try:
        await call
    except httpx.HTTPStatusError as err:
        return err.response.status_code
    return None


async def main():
    v1 = InferenceRESTClient(RESTConfig(protocol="v1", timeout=30))
    v2 = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    try:
        # Liveness and readiness are probes: open without a token, as on KServe.
        check(await v1.is_server_live(URL) is True, "v1 is_server_live (GET /)")
        check(await v2.is_server_live(URL) is True, "v2 is_server_live")
        check(await v2.is_server_ready(URL) is True, "v2 is_server_ready")
        check(await v1.is_model_ready(URL, MODEL) is True, "v1 is_model_ready")
        check(await v2.is_model_ready(URL, MODEL) is True, "v2 is_model_ready")

        # Inference needs the token; the client raises on our 401.
        check(await status_of(v1.infer(URL, {"instances": [ROW]}, model_name=MODEL)) == 401, "v1 infer without a token")
        out = await v1.infer(URL, {"instances": [ROW, ROW]}, model_name=MODEL, headers=AUTH)
        check(len(out["predictions"]) == 2, f"v1 predictions {out}")
        check(set(out["predictions"][0]) == {"probabilities", "label"}, f"v1 prediction keys {out}")

        # The client has no call for the model list: ask its endpoint with httpx, the client's transport.
        async with httpx.AsyncClient(timeout=30) as http:
            listed = await http.get(f"{URL}/v1/models")
            check(listed.status_code == 401, f"v1 model list without a token: {listed.status_code}")
            listed = await http.get(f"{URL}/v1/models", headers=AUTH)
            check(listed.status_code == 200 and listed.json() == {"models": [MODEL]}, f"v1 model list {listed.text}")
    finally:
        await v1.close()
        await v2.close()


asyncio.run(main())
print(json.dumps({"checks": checks}))
