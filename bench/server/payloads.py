"""Write the benchmark's V2 request bodies for one model: a JSON body and a binary one.

The binary body is made by tritonclient itself (`generate_request_body`), so it is byte for byte
what `tritonclient.http` sends with `binary_data=True` (inputs binary, `binary_data_output: true`).
Inputs are one sample (dynamic dimensions set to 1) of seeded random data, so every run and every
server gets the same bytes.

Usage: payloads.py MODEL.onnx NAME OUT_DIR  ->  OUT_DIR/NAME.json, NAME.bin, NAME.meta.json
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.http as triton

V2_DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64}
ORT_TO_V2 = {
    "tensor(float)": ("FP32", np.float32),
    "tensor(double)": ("FP64", np.float64),
    "tensor(int32)": ("INT32", np.int32),
    "tensor(int64)": ("INT64", np.int64),
}


def sample_inputs(model_path):
    """One seeded sample per model input, as (name, V2 datatype, values as a client holds them).

    Float values are float64 rounded to 4 decimals, so the JSON body carries short decimals as a
    client serialising user data would; the binary body carries the same values cast to the dtype.
    """
    rng = np.random.default_rng(20261121)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    samples = []
    for meta in session.get_inputs():
        if meta.type not in ORT_TO_V2:
            raise SystemExit(f"payloads: input {meta.name} of {model_path} has type {meta.type}, not supported")
        datatype, dtype = ORT_TO_V2[meta.type]
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in meta.shape]
        if np.issubdtype(dtype, np.integer):
            values = rng.integers(0, 10, size=shape).astype(dtype)
        else:
            values = np.round(rng.random(size=shape), 4)
        samples.append((meta.name, datatype, values))
    return samples


def main(model_path, name, out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = sample_inputs(model_path)
    json_body = {
        "inputs": [
            {"name": n, "shape": list(a.shape), "datatype": t, "data": a.ravel().tolist()} for n, t, a in samples
        ]
    }
    (out / f"{name}.json").write_text(json.dumps(json_body, separators=(",", ":")))
    inputs = []
    for n, t, a in samples:
        tensor = triton.InferInput(n, list(a.shape), t)
        tensor.set_data_from_numpy(a.astype(V2_DTYPES[t]), binary_data=True)
        inputs.append(tensor)
    body, header_length = triton.InferenceServerClient.generate_request_body(inputs)
    (out / f"{name}.bin").write_bytes(body)
    meta = {"model": name, "binaryHeaderLength": header_length, "inputs": [[n, t, list(a.shape)] for n, t, a in samples]}
    (out / f"{name}.meta.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
