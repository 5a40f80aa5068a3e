"""The baseline the ML-deployment guides recommend: Flask + onnxruntime behind gunicorn sync workers.

It speaks the same Open Inference Protocol V2 REST `infer` as our server, JSON and the binary tensor
data extension (`Inference-Header-Content-Length`), so both answer byte-identical requests. It is
written the way a careful Flask developer would: one InferenceSession per worker created at import,
numpy for decoding, one onnxruntime intra-op thread per worker so gunicorn's workers do not fight
over the two cores.

Run: BENCH_MODEL=path.onnx BENCH_MODEL_NAME=tiny gunicorn -w 2 -k sync bench.server.flask_app:app
"""

import json
import os

import numpy as np
import onnxruntime as ort
from flask import Flask, Response, jsonify, request

MODEL_PATH = os.environ["BENCH_MODEL"]
MODEL_NAME = os.environ.get("BENCH_MODEL_NAME", "model")

# V2 datatype <-> numpy dtype, and onnxruntime's type strings -> V2 datatype.
V2_TO_NUMPY = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
}
NUMPY_TO_V2 = {np.dtype(v): k for k, v in V2_TO_NUMPY.items()}
ORT_TO_V2 = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(bool)": "BOOL",
}

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(MODEL_PATH, options, providers=["CPUExecutionProvider"])
INPUTS = {i.name: ORT_TO_V2.get(i.type) for i in session.get_inputs()}
OUTPUT_NAMES = [o.name for o in session.get_outputs()]

app = Flask(__name__)


class BadRequest(Exception):
    """A client mistake; answered with 400 and a JSON {error}."""


@app.errorhandler(BadRequest)
def bad_request(err):
    return jsonify(error=str(err)), 400


@app.get("/v2/health/ready")
def ready():
    return jsonify(ready=True)


def decode_inputs(header, raw, offset):
    """Turn the V2 request's inputs into numpy arrays; binary data starts at `offset` in `raw`."""
    feed = {}
    for tensor in header.get("inputs", []):
        name = tensor.get("name")
        if name not in INPUTS:
            raise BadRequest(f"unknown input {name!r}")
        datatype = tensor.get("datatype")
        if datatype != INPUTS[name] or datatype not in V2_TO_NUMPY:
            raise BadRequest(f"input {name!r}: datatype {datatype!r}, model wants {INPUTS[name]!r}")
        dtype = V2_TO_NUMPY[datatype]
        shape = tensor.get("shape")
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        try:
            if size is not None:
                array = np.frombuffer(raw, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset)
                offset += size
            else:
                array = np.asarray(tensor["data"], dtype=dtype)
            feed[name] = array.reshape(shape)
        except (KeyError, ValueError, TypeError) as err:
            raise BadRequest(f"input {name!r}: {err}") from err
    missing = set(INPUTS) - set(feed)
    if missing:
        raise BadRequest(f"missing inputs {sorted(missing)}")
    return feed


def wants_binary(header):
    """True when the client asked for binary outputs (as tritonclient does with binary_data=True)."""
    if (header.get("parameters") or {}).get("binary_data_output"):
        return True
    return any((o.get("parameters") or {}).get("binary_data") for o in header.get("outputs") or [])


@app.post("/v2/models/<name>/infer")
def infer(name):
    if name != MODEL_NAME:
        return jsonify(error=f"model {name!r} not found"), 404
    raw = request.get_data()
    header_length = request.headers.get("Inference-Header-Content-Length")
    try:
        if header_length is not None:
            header = json.loads(raw[: int(header_length)])
            offset = int(header_length)
        else:
            header = json.loads(raw)
            offset = len(raw)
    except ValueError as err:
        raise BadRequest(f"malformed request: {err}") from err
    feed = decode_inputs(header, raw, offset)
    wanted = [o["name"] for o in header.get("outputs") or []] or OUTPUT_NAMES
    results = session.run(wanted, feed)
    binary = wants_binary(header)
    outputs, chunks = [], []
    for out_name, value in zip(wanted, results):
        tensor = {"name": out_name, "datatype": NUMPY_TO_V2[value.dtype], "shape": list(value.shape)}
        if binary:
            chunk = np.ascontiguousarray(value).tobytes()
            tensor["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            tensor["data"] = value.ravel().tolist()
        outputs.append(tensor)
    body = {"model_name": MODEL_NAME, "model_version": "1", "outputs": outputs}
    if "id" in header:
        body["id"] = header["id"]
    encoded = json.dumps(body).encode()
    if not binary:
        return Response(encoded, mimetype="application/json")
    response = Response(encoded + b"".join(chunks), mimetype="application/octet-stream")
    response.headers["Inference-Header-Content-Length"] = str(len(encoded))
    return response
