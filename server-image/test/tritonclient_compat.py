"""Drive a Modelship server with the real tritonclient.http, as a Triton user would.

Usage: python tritonclient_compat.py HOST:PORT

The server must serve test/fixtures/models/dtypes.onnx as model "dtypes". Every check is an
assert; on success one JSON line with the number of checks is printed and the exit code is 0.
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

URL = sys.argv[1]
MODEL = "dtypes"
checks = 0


def check(condition, what):
    """Assert with a message, and count the check."""
    global checks
    assert condition, what
    checks += 1


# INT64 at its extremes, in JSON as in binary: Python's json writes and reads integers exactly, and
# so must the server (2**53 + 1 is not a double; -2**63 and, after the model's + 1, 2**63 - 1 are
# the range's ends).
SAMPLES = {
    "fp32": ("FP32", np.array([[1.5, -2.25], [3.4028235e38, 0.0]], dtype=np.float32)),
    "fp64": ("FP64", np.array([[1.5, -2.25], [1e300, 0.1]], dtype=np.float64)),
    "int32": ("INT32", np.array([[1, -2], [2147483646, -2147483648]], dtype=np.int32)),
    "int64": ("INT64", np.array([[2**63 - 2, -2], [2**53 + 1, -(2**63)]], dtype=np.int64)),
    "bool": ("BOOL", np.array([[True, False], [False, True]], dtype=np.bool_)),
    "bytes": ("BYTES", np.array([[b"hello", b""], ["ünïcode".encode(), b"a b"]], dtype=np.object_)),
}


def expected(kind, value):
    """What dtypes.onnx computes: x + 1 for numbers, not x for BOOL, identity for BYTES."""
    if kind == "bool":
        return np.logical_not(value)
    if kind == "bytes":
        return value
    return value + np.ones((), dtype=value.dtype)


client = httpclient.InferenceServerClient(url=URL)
check(client.is_server_live(), "server live")
check(client.is_server_ready(), "server ready")
check(client.is_model_ready(MODEL), "model ready")
check(not client.is_model_ready("no-such-model"), "unknown model not ready")
server = client.get_server_metadata()
check(server["name"] == "modelship", f"server metadata {server}")
meta = client.get_model_metadata(MODEL)
check({i["name"] for i in meta["inputs"]} == {f"{k}_in" for k in SAMPLES}, f"inputs {meta['inputs']}")
check({o["name"] for o in meta["outputs"]} == {f"{k}_out" for k in SAMPLES}, f"outputs {meta['outputs']}")

for binary in (False, True):
    inputs = []
    for kind, (datatype, value) in SAMPLES.items():
        tensor = httpclient.InferInput(f"{kind}_in", list(value.shape), datatype)
        tensor.set_data_from_numpy(value, binary_data=binary)
        inputs.append(tensor)
    outputs = [httpclient.InferRequestedOutput(f"{kind}_out", binary_data=binary) for kind in SAMPLES]
    result = client.infer(MODEL, inputs, outputs=outputs, request_id=f"tc-{binary}")
    response = result.get_response()
    check(response["id"] == f"tc-{binary}", f"id echoed: {response.get('id')}")
    check(response["model_name"] == MODEL, "model name")
    sizes = ["binary_data_size" in o.get("parameters", {}) for o in response["outputs"]]
    check(sizes == [binary] * len(SAMPLES), f"outputs sent as binary={binary}: {response['outputs']}")
    for kind, (datatype, value) in SAMPLES.items():
        got = result.as_numpy(f"{kind}_out")
        want = expected(kind, value)
        check(got is not None, f"{kind}_out present (binary={binary})")
        check(got.shape == want.shape, f"{kind}_out shape {got.shape} (binary={binary})")
        if kind == "bytes":
            # Triton's client too gives JSON strings back as str and binary elements as bytes.
            text = [[v.decode() if isinstance(v, bytes) else v for v in row] for row in got.tolist()]
            check(text == [[v.decode() for v in row] for row in want.tolist()], f"{kind}_out {got.tolist()} (binary={binary})")
        else:
            check(got.dtype == want.dtype, f"{kind}_out dtype {got.dtype} (binary={binary})")
            check(np.array_equal(got, want), f"{kind}_out {got.tolist()} != {want.tolist()} (binary={binary})")

    # Without requested outputs the server returns all of them (JSON), which the client reads too.
    result = client.infer(MODEL, inputs)
    check(np.array_equal(result.as_numpy("int32_out"), expected("int32", SAMPLES["int32"][1])), "default outputs")

# A client mistake comes back as an exception carrying the server's message.
bad = httpclient.InferInput("nope_in", [1, 2], "FP32")
bad.set_data_from_numpy(np.zeros((1, 2), dtype=np.float32), binary_data=True)
try:
    client.infer(MODEL, [bad])
    check(False, "unknown input accepted")
except InferenceServerException as err:
    check("nope_in" in str(err), f"error names the input: {err}")

print(json.dumps({"checks": checks}))
