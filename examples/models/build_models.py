"""Build every ONNX model Modelship ships or tests with, deterministically.

Run with the project venv (`make models`). Rebuilding on the same pinned tool versions
(test/requirements.txt) gives byte-identical files: fixed seeds, fixed splits, single-threaded BLAS,
sorted opset imports, no timestamps, no doc strings. Every model is loaded and run once in Python onnxruntime before it
is written; examples/models/verify_node.js does the same with onnxruntime-node.

Outputs:
  test/fixtures/models/*.onnx   small models made with onnx.helper for the server tests
  examples/models/*.onnx        digits classifiers trained with scikit-learn, exported with skl2onnx
  examples/models/*.json        their metadata (accuracy, split, seed, tensors, sha256)
  examples/models/*.profile.json  each digits model's drift reference profile (contract/drift.ts),
                                from the TRAINING split
  examples/models/samples/      labelled sample requests for the digits models (KServe V1 and V2),
                                test.v2.jsonl (the test split, one V2 body a line) and shifted/
                                (the same rows with noise, inverted, and patches of other images)
  */SHA256SUMS                  sha256sum-format digests of the .onnx (and .profile.json) files
"""

import os

# Before numpy loads: multi-threaded BLAS may sum in a different order run to run, which would
# change the trained weights in the last bits and so the bytes of the models.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.datasets import load_digits, load_iris, load_sample_images  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# onnxruntime-node 1.30 runs opsets up to 23; 17 (IR 8) is well inside what every runtime we use
# (onnxruntime-node, Python onnxruntime, the Flask baseline) supports.
OPSET = 17
ML_OPSET = 3
IR_VERSION = 8
PRODUCER = "modelship-build-models"

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "test" / "fixtures" / "models"
EXAMPLES = ROOT / "examples" / "models"

# The digits split and seed: every digits model is trained on the same training rows and scored on
# the same test rows, so their accuracies and their agreement are comparable.
DIGITS_SEED = 20240611
DIGITS_TEST_SIZE = 0.25


def sha256_of(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def finish(graph: onnx.GraphProto) -> onnx.ModelProto:
    """Wrap a graph into a checked model with a fixed opset, IR version and producer."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name=PRODUCER,
        producer_version="1",
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def run_in_ort(data: bytes, feeds: dict) -> dict:
    """Load serialized model bytes in Python onnxruntime and run them once; return named outputs."""
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def write_model(folder: Path, name: str, model: onnx.ModelProto, feeds: dict) -> tuple[bytes, dict]:
    """Serialize, prove it runs in onnxruntime with the given feeds, write it; return bytes and outputs."""
    data = model.SerializeToString(deterministic=True)
    outputs = run_in_ort(data, feeds)
    (folder / name).write_bytes(data)
    return data, outputs


def write_sums(folder: Path) -> None:
    """Write SHA256SUMS (sha256sum format, sorted by name) for every .onnx and .profile.json file
    in the folder."""
    files = sorted([*folder.glob("*.onnx"), *folder.glob("*.profile.json")], key=lambda p: p.name)
    lines = [f"{sha256_of(p.read_bytes())}  {p.name}\n" for p in files]
    (folder / "SHA256SUMS").write_text("".join(lines))


def write_json(path: Path, value, indent: int | None = 2) -> None:
    """Write JSON with a trailing newline; indent=None for one-line request bodies (curl -d @file)."""
    path.write_text(json.dumps(value, indent=indent, ensure_ascii=False) + "\n")


def init(name: str, array: np.ndarray) -> onnx.TensorProto:
    """An initializer from a numpy array."""
    return numpy_helper.from_array(array, name=name)


# ---------------------------------------------------------------------------------------------
# Fixtures (onnx.helper)
# ---------------------------------------------------------------------------------------------


def iris_weights() -> tuple[np.ndarray, np.ndarray]:
    """A multinomial logistic regression on scikit-learn's bundled iris set (4 features, 3 classes).

    Real weights rather than random ones, so the fixtures classify real flowers: a test can send
    [5.1, 3.5, 1.4, 0.2] and expect class 0 (setosa).
    """
    x, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=1000, random_state=0).fit(x, y)
    return clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)


def iris_classifier_graph(name: str, batch) -> onnx.GraphProto:
    """Gemm + Softmax + ArgMax over the iris weights; `batch` is a dim name (dynamic) or an int."""
    w, b = iris_weights()
    nodes = [
        helper.make_node("Gemm", ["input", "W", "B"], ["logits"], name="gemm"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1, name="softmax"),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0, name="argmax"),
    ]
    return helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 4])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, 3]),
            helper.make_tensor_value_info("label", TensorProto.INT64, [batch]),
        ],
        [init("W", w), init("B", b)],
    )


IRIS_SAMPLES = np.array(
    [[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5]], dtype=np.float32
)


def build_tiny() -> None:
    """tiny.onnx: the smallest realistic classifier (iris, 4 -> 3). Input "input" FP32 [batch,4],
    outputs "probabilities" FP32 [batch,3] and "label" INT64 [batch]. Dynamic batch, so the
    server may batch it; the HTTP-bound model of the benchmarks."""
    _, out = write_model(FIXTURES, "tiny.onnx", finish(iris_classifier_graph("tiny", "batch")),
                         {"input": IRIS_SAMPLES})
    assert out["label"].tolist() == [0, 1, 2], out["label"]


def build_fixed_batch() -> None:
    """fixed_batch.onnx: the tiny classifier with batch fixed to 1 (input [1,4]): the server must
    never batch requests for it, and must reject a request with 2 rows as a shape error."""
    _, out = write_model(FIXTURES, "fixed_batch.onnx", finish(iris_classifier_graph("fixed_batch", 1)),
                         {"input": IRIS_SAMPLES[:1]})
    assert out["label"].tolist() == [0], out["label"]


def build_mlp() -> None:
    """mlp.onnx: MNIST-shaped MLP 784 -> 256 -> 256 -> 10 with ReLU, He-initialised from a fixed
    seed (untrained: what matters is its compute cost). Input "input" FP32 [batch,784], output
    "logits" FP32 [batch,10]. The compute-bound model of the benchmarks and of batching tests."""
    rng = np.random.RandomState(784)
    sizes = [784, 256, 256, 10]
    inits, nodes = [], []
    previous = "input"
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        w = (rng.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (rng.randn(fan_out) * 0.01).astype(np.float32)
        inits += [init(f"W{i}", w), init(f"B{i}", b)]
        last = i == len(sizes) - 2
        gemm_out = "logits" if last else f"h{i}"
        nodes.append(helper.make_node("Gemm", [previous, f"W{i}", f"B{i}"], [gemm_out], name=f"gemm{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [gemm_out], [f"a{i}"], name=f"relu{i}"))
            previous = f"a{i}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    x = np.random.RandomState(1).rand(3, 784).astype(np.float32)
    _, out = write_model(FIXTURES, "mlp.onnx", finish(graph), {"input": x})
    assert out["logits"].shape == (3, 10)


def build_two_inputs() -> None:
    """two_inputs.onnx: inputs "x" FP32 [batch,3] and "k" INT64 [batch,1]. Outputs depend on both,
    so a test sees whether the server fed each input to the right place:
      "scaled" FP32 [batch,3] = x * k
      "total"  FP32 [batch,1] = sum(x, axis 1) + k"""
    nodes = [
        helper.make_node("Cast", ["k"], ["k_float"], to=TensorProto.FLOAT, name="cast_k"),
        helper.make_node("Mul", ["x", "k_float"], ["scaled"], name="scale"),
        helper.make_node("ReduceSum", ["x", "axis1"], ["row_sum"], keepdims=1, name="row_sum"),
        helper.make_node("Add", ["row_sum", "k_float"], ["total"], name="total"),
    ]
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("k", TensorProto.INT64, ["batch", 1]),
        ],
        [
            helper.make_tensor_value_info("scaled", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("total", TensorProto.FLOAT, ["batch", 1]),
        ],
        [init("axis1", np.array([1], dtype=np.int64))],
    )
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    k = np.array([[2], [-1]], dtype=np.int64)
    _, out = write_model(FIXTURES, "two_inputs.onnx", finish(graph), {"x": x, "k": k})
    assert out["scaled"].tolist() == [[2, 4, 6], [-4, -5, -6]], out["scaled"]
    assert out["total"].tolist() == [[8], [14]], out["total"]


def build_scalar_sum() -> None:
    """scalar_sum.onnx: input "input" FP32 [batch,3], output "total" FP32 [] = the sum of every
    element (ReduceSum over all axes, keepdims=0). An output with no batch dimension at all: what
    KServe V1 must answer for an output that does not split into one prediction per instance."""
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["input"], ["total"], keepdims=0, name="sum_all")],
        "scalar_sum",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [])],
    )
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    _, out = write_model(FIXTURES, "scalar_sum.onnx", finish(graph), {"input": x})
    assert out["total"].shape == () and out["total"].tolist() == 21.0, out["total"]


# V2 datatype name -> (ONNX element type, numpy dtype, file-name suffix).
DTYPES = {
    "FP32": (TensorProto.FLOAT, np.float32, "fp32"),
    "FP64": (TensorProto.DOUBLE, np.float64, "fp64"),
    "INT32": (TensorProto.INT32, np.int32, "int32"),
    "INT64": (TensorProto.INT64, np.int64, "int64"),
    "BOOL": (TensorProto.BOOL, np.bool_, "bool"),
    "BYTES": (TensorProto.STRING, np.object_, "bytes"),
    "UINT8": (TensorProto.UINT8, np.uint8, "uint8"),
    "INT8": (TensorProto.INT8, np.int8, "int8"),
    "INT16": (TensorProto.INT16, np.int16, "int16"),
    "UINT16": (TensorProto.UINT16, np.uint16, "uint16"),
    "UINT32": (TensorProto.UINT32, np.uint32, "uint32"),
    "UINT64": (TensorProto.UINT64, np.uint64, "uint64"),
    "FP16": (TensorProto.FLOAT16, np.float16, "fp16"),
}

# The six datatypes of dtypes.onnx, and the operation each output applies to its input.
DTYPES_MODEL_OPS = {"FP32": "add1", "FP64": "add1", "INT32": "add1", "INT64": "add1",
                    "BOOL": "not", "BYTES": "identity"}


def sample_of(datatype: str) -> np.ndarray:
    """A [2,2] sample tensor of a V2 datatype, with values that stress the codec (sign, width)."""
    values = {
        "FP32": [[1.5, -2.25], [3.4028235e38, 0.0]],
        "FP64": [[1.5, -2.25], [1e300, 0.1]],
        "INT32": [[1, -2], [2147483646, -2147483648]],
        "INT64": [[1, -2], [9007199254740993, -9223372036854775808]],
        "BOOL": [[True, False], [False, True]],
        "BYTES": [["hello", ""], ["ünïcode", "a b"]],
        "UINT8": [[0, 255], [1, 128]],
        "INT8": [[-128, 127], [0, -1]],
        "INT16": [[-32768, 32767], [0, -1]],
        "UINT16": [[0, 65535], [1, 2]],
        "UINT32": [[0, 4294967295], [1, 2]],
        "UINT64": [[0, 18446744073709551615], [1, 2]],
        "FP16": [[1.5, -2.25], [65504.0, 0.0]],
    }[datatype]
    return np.array(values, dtype=DTYPES[datatype][1])


def build_dtypes() -> None:
    """dtypes.onnx: one input per V2 datatype the server must support end to end, each with its own
    output, so one request exercises every codec path and proves the model really computed:
      "<t>_in" [batch,2] -> "<t>_out" [batch,2], t in fp32 fp64 int32 int64 (x + 1), bool (not x),
      bytes (identity: ONNX has no string arithmetic in opset 17)."""
    nodes, inputs, outputs, inits, feeds = [], [], [], [], {}
    for datatype, op in DTYPES_MODEL_OPS.items():
        elem, np_dtype, suffix = DTYPES[datatype]
        src, dst = f"{suffix}_in", f"{suffix}_out"
        inputs.append(helper.make_tensor_value_info(src, elem, ["batch", 2]))
        outputs.append(helper.make_tensor_value_info(dst, elem, ["batch", 2]))
        if op == "add1":
            inits.append(init(f"{suffix}_one", np.array(1, dtype=np_dtype)))
            nodes.append(helper.make_node("Add", [src, f"{suffix}_one"], [dst], name=f"{suffix}_add"))
        elif op == "not":
            nodes.append(helper.make_node("Not", [src], [dst], name=f"{suffix}_not"))
        else:
            nodes.append(helper.make_node("Identity", [src], [dst], name=f"{suffix}_identity"))
        feeds[src] = sample_of(datatype)
    graph = helper.make_graph(nodes, "dtypes", inputs, outputs, inits)
    _, out = write_model(FIXTURES, "dtypes.onnx", finish(graph), feeds)
    assert out["int64_out"][0].tolist() == [2, -1]
    assert out["bool_out"][0].tolist() == [False, True]
    assert out["bytes_out"][1].tolist() == ["ünïcode", "a b"]


def build_echo_per_dtype() -> None:
    """echo_<t>.onnx: one model per V2 datatype with a single input "input" [batch,2] and an
    Identity output "output": a test of one datatype needs to send only that one tensor, and
    the exact round trip (extremes, big int64, UTF-8 strings) is what it checks."""
    for datatype, (elem, _, suffix) in DTYPES.items():
        graph = helper.make_graph(
            [helper.make_node("Identity", ["input"], ["output"], name="identity")],
            f"echo_{suffix}",
            [helper.make_tensor_value_info("input", elem, ["batch", 2])],
            [helper.make_tensor_value_info("output", elem, ["batch", 2])],
        )
        sample = sample_of(datatype)
        _, out = write_model(FIXTURES, f"echo_{suffix}.onnx", finish(graph), {"input": sample})
        assert out["output"].tolist() == sample.tolist(), datatype


# ---------------------------------------------------------------------------------------------
# The digits example models (scikit-learn + skl2onnx)
# ---------------------------------------------------------------------------------------------

# digits-bad is trained on labels shifted by one (0->1, ..., 9->0): a model that looks healthy
# (confident, fast, right shape) but disagrees with the stable one on nearly every request.
BAD_LABEL_SHIFT = 1


def digits_split():
    """The fixed train/test split of scikit-learn's bundled digits set (8x8 images, pixels 0..16)."""
    x, y = load_digits(return_X_y=True)
    return train_test_split(x, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SEED, stratify=y)


def logistic_regression() -> LogisticRegression:
    """The stable digits classifier's estimator: multinomial, L2-regularised."""
    return LogisticRegression(C=0.5, max_iter=5000, random_state=DIGITS_SEED)


def export_digits(estimator) -> onnx.ModelProto:
    """skl2onnx export with input "input" FP32 [batch,64], outputs "label" INT64 and "probabilities"."""
    model = to_onnx(
        estimator,
        initial_types=[("input", FloatTensorType([None, 64]))],
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
        options={"zipmap": False},
        final_types=None,
    )
    # skl2onnx collects the opsets in a set, so their order follows Python's per-process string
    # hash seed (and a pipeline may list the default domain twice); sorting and de-duplicating
    # them makes the bytes the same on every run.
    opsets = sorted({(o.domain, o.version) for o in model.opset_import})
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in opsets)
    model.ir_version = IR_VERSION
    model.producer_name = PRODUCER
    model.producer_version = "1"
    model.doc_string = ""
    model.graph.doc_string = ""
    onnx.checker.check_model(model, full_check=True)
    return model


V2_DATATYPE_OF_ORT_TYPE = {"tensor(float)": "FP32", "tensor(int64)": "INT64"}


def tensor_meta(session: ort.InferenceSession) -> dict:
    """Input/output names, V2 datatypes and shapes (-1 for the dynamic batch dim) of a session."""
    def describe(args):
        return [{"name": a.name, "datatype": V2_DATATYPE_OF_ORT_TYPE[a.type],
                 "shape": [d if isinstance(d, int) else -1 for d in a.shape]} for a in args]
    return {"inputs": describe(session.get_inputs()), "outputs": describe(session.get_outputs())}


# digits-faulty fails in onnxruntime exactly when one pixel is bright: the pixel indexes a table of
# FAULTY_TABLE_SIZE zeros, so a value >= FAULTY_TABLE_SIZE is an out-of-range Gather index, a runtime
# error. Pixel 42 (row 5, column 2) is >= 10 in 40% of the test rows and in 4 of the 10 samples.
FAULTY_PIXEL = 42
FAULTY_TABLE_SIZE = 10

# digits-slow adds SLOW_LAYERS dense+tanh layers over SLOW_ROWS copies of the request's first row:
# a fixed amount of work per inference (not per row), so the latency is its only fault (a cost
# that grew with the batch would overload the server under steady load and fail with timeouts).
SLOW_ROWS = 4096
SLOW_LAYERS = 160


def with_zero_terms(base: onnx.ModelProto, name: str, nodes: list, inits: list,
                    label_zero: str, probability_zero: str) -> onnx.ModelProto:
    """A copy of a digits model whose outputs are its own plus zero terms computed by extra nodes.

    `label_zero` (INT64) and `probability_zero` (FP32) must broadcast against "label" [batch] and
    "probabilities" [batch,10] and be exactly zero: x + 0 is x, bit for bit, so the copy predicts
    what the base does whenever the extra nodes run at all, yet onnxruntime cannot skip or
    constant-fold them because they depend on the input."""
    model = onnx.ModelProto()
    model.CopyFrom(base)
    graph = model.graph
    graph.name = name
    renamed = {"label": "label_base", "probabilities": "probabilities_base"}
    for node in graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
        node.output[:] = [renamed.get(o, o) for o in node.output]
    graph.node.extend(nodes + [
        helper.make_node("Add", ["label_base", label_zero], ["label"], name="label_plus_zero"),
        helper.make_node("Add", ["probabilities_base", probability_zero], ["probabilities"],
                         name="probabilities_plus_zero"),
    ])
    graph.initializer.extend(inits)
    onnx.checker.check_model(model, full_check=True)
    return model


def faulty_digits(base: onnx.ModelProto) -> onnx.ModelProto:
    """digits-faulty: digits plus a Gather whose index is pixel FAULTY_PIXEL of each row, into a
    table of FAULTY_TABLE_SIZE zeros. Rows where that pixel is < FAULTY_TABLE_SIZE get digits'
    exact outputs; a brighter pixel is an out-of-range index, and onnxruntime fails the whole run."""
    nodes = [
        helper.make_node("Slice", ["input", "faulty_start", "faulty_end", "faulty_axis"], ["faulty_pixel"],
                         name="faulty_pixel"),
        helper.make_node("Cast", ["faulty_pixel"], ["faulty_pixel_int"], to=TensorProto.INT64, name="faulty_cast"),
        helper.make_node("Squeeze", ["faulty_pixel_int", "faulty_axis"], ["faulty_index"], name="faulty_squeeze"),
        helper.make_node("Gather", ["faulty_zeros", "faulty_index"], ["faulty_label_zero"], axis=0,
                         name="faulty_gather"),
        helper.make_node("Unsqueeze", ["faulty_label_zero", "faulty_axis"], ["faulty_column"], name="faulty_unsqueeze"),
        helper.make_node("Cast", ["faulty_column"], ["faulty_probability_zero"], to=TensorProto.FLOAT,
                         name="faulty_cast_float"),
    ]
    inits = [
        init("faulty_start", np.array([FAULTY_PIXEL], dtype=np.int64)),
        init("faulty_end", np.array([FAULTY_PIXEL + 1], dtype=np.int64)),
        init("faulty_axis", np.array([1], dtype=np.int64)),
        init("faulty_zeros", np.zeros(FAULTY_TABLE_SIZE, dtype=np.int64)),
    ]
    return with_zero_terms(base, "digits_faulty", nodes, inits, "faulty_label_zero", "faulty_probability_zero")


def slow_digits(base: onnx.ModelProto) -> onnx.ModelProto:
    """digits-slow: digits plus SLOW_LAYERS MatMul+Tanh layers over [SLOW_ROWS, 64] copies of the
    first input row, whose ArgMax indexes a table of zeros (always in range): digits' exact
    outputs, after a fixed extra cost per inference."""
    rng = np.random.RandomState(DIGITS_SEED)
    weights = (rng.randn(64, 64) / 8.0).astype(np.float32)
    nodes = [
        helper.make_node("Slice", ["input", "slow_start", "slow_end", "slow_axis0"], ["slow_first_row"],
                         name="slow_first_row"),
        helper.make_node("Tile", ["slow_first_row", "slow_repeats"], ["slow_h0"], name="slow_tile"),
    ]
    for i in range(SLOW_LAYERS):
        nodes += [
            helper.make_node("MatMul", [f"slow_h{i}", "slow_weights"], [f"slow_m{i}"], name=f"slow_matmul{i}"),
            helper.make_node("Tanh", [f"slow_m{i}"], [f"slow_h{i + 1}"], name=f"slow_tanh{i}"),
        ]
    nodes += [
        helper.make_node("ArgMax", [f"slow_h{SLOW_LAYERS}"], ["slow_argmax"], axis=1, keepdims=0, name="slow_argmax"),
        helper.make_node("Gather", ["slow_zeros", "slow_argmax"], ["slow_gathered"], axis=0, name="slow_gather"),
        helper.make_node("ReduceMax", ["slow_gathered"], ["slow_label_zero"], keepdims=0, name="slow_reduce"),
        helper.make_node("Cast", ["slow_label_zero"], ["slow_probability_zero"], to=TensorProto.FLOAT,
                         name="slow_cast_float"),
    ]
    inits = [
        init("slow_start", np.array([0], dtype=np.int64)),
        init("slow_end", np.array([1], dtype=np.int64)),
        init("slow_axis0", np.array([0], dtype=np.int64)),
        init("slow_repeats", np.array([SLOW_ROWS, 1], dtype=np.int64)),
        init("slow_weights", weights),
        init("slow_zeros", np.zeros(64, dtype=np.int64)),
    ]
    return with_zero_terms(base, "digits_slow", nodes, inits, "slow_label_zero", "slow_probability_zero")


def digits_meta(name: str, data: bytes, description: str, split: tuple, labels: np.ndarray,
                reference: np.ndarray) -> dict:
    """The sidecar metadata of a digits model: what it is, how it was trained and how it scores."""
    x_train, x_test, _, y_test = split
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return {
        "model": f"{name}.onnx",
        "sha256": sha256_of(data),
        "estimator": description,
        "dataset": "sklearn.datasets.load_digits (1797 8x8 images, pixel values 0..16, 10 classes)",
        "split": {"method": "sklearn.model_selection.train_test_split, stratified",
                  "test_size": DIGITS_TEST_SIZE, "random_state": DIGITS_SEED,
                  "train_rows": int(len(x_train)), "test_rows": int(len(x_test))},
        "seed": DIGITS_SEED,
        "test_accuracy": round(float((labels == y_test).mean()), 4),
        "agreement_with_digits": round(float((labels == reference).mean()), 4),
        "opset": {o.domain or "ai.onnx": o.version for o in onnx.load_from_string(data).opset_import},
        **tensor_meta(session),
    }


def run_rows(data: bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a digits model on each row alone: labels (-1 where the run failed), probabilities
    (NaN where it failed) and the mask of failed rows."""
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the expected failures of digits-faulty are not news
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    labels = np.full(len(x), -1, dtype=np.int64)
    probabilities = np.full((len(x), 10), np.nan, dtype=np.float32)
    failed = np.zeros(len(x), dtype=bool)
    for i in range(len(x)):
        try:
            labels[i:i + 1], probabilities[i:i + 1] = session.run(["label", "probabilities"], {"input": x[i:i + 1]})
        except Exception as err:  # noqa: BLE001 -- onnxruntime raises its own Fail type
            assert "out of data bounds" in str(err), err
            failed[i] = True
    return labels, probabilities, failed


def build_digits() -> None:
    """digits.onnx (stable), digits-v2.onnx (a GOOD canary: another algorithm, as accurate),
    digits-bad.onnx (a BAD canary: shifted labels), and two BAD canaries derived from digits.onnx
    that are bad for one reason each: digits-faulty.onnx (a runtime error for 40% of inputs) and
    digits-slow.onnx (digits' exact outputs, slowly). Same split, same tensors, so they are
    interchangeable in a ModelDeployment."""
    split = digits_split()
    x_train, x_test, y_train, y_test = split
    x = x_test.astype(np.float32)
    variants = {
        "digits": (
            "StandardScaler + multinomial LogisticRegression(C=0.5)",
            make_pipeline(StandardScaler(), logistic_regression()),
            y_train,
        ),
        "digits-v2": (
            "StandardScaler + MLPClassifier(hidden_layer_sizes=(64,))",
            make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=2000,
                                                         random_state=DIGITS_SEED)),
            y_train,
        ),
        "digits-bad": (
            f"the digits pipeline trained on labels shifted by {BAD_LABEL_SHIFT} (label -> label+1 mod 10)",
            make_pipeline(StandardScaler(), logistic_regression()),
            (y_train + BAD_LABEL_SHIFT) % 10,
        ),
    }
    predictions, failures, train_labels = {}, {}, {}
    stable_model, stable_out = None, None
    for name, (description, estimator, labels) in variants.items():
        estimator.fit(x_train, labels)
        model = export_digits(estimator)
        data, out = write_model(EXAMPLES, f"{name}.onnx", model, {"input": x})
        # The exported model must decide exactly as the scikit-learn one does.
        assert (out["label"] == estimator.predict(x_test)).all(), name
        if name == "digits":
            stable_model, stable_out = model, out
        predictions[name] = out["label"]
        train_labels[name] = estimator.predict(x_train)
        write_json(EXAMPLES / f"{name}.profile.json", drift_profile(x_train, train_labels[name]))
        write_json(EXAMPLES / f"{name}.json",
                   digits_meta(name, data, description, split, out["label"], predictions["digits"]))

    faulty = faulty_digits(stable_model)
    faulty_data = faulty.SerializeToString(deterministic=True)
    labels, probabilities, failed = run_rows(faulty_data, x)
    stable_labels, stable_probabilities, _ = run_rows(stable_model.SerializeToString(deterministic=True), x)
    # It fails exactly where the pixel is bright, and elsewhere answers as digits does, bit for bit
    # (row by row on both sides: a batched GEMM may round differently from a single row).
    assert (failed == (x[:, FAULTY_PIXEL] >= FAULTY_TABLE_SIZE)).all()
    assert (labels[~failed] == stable_labels[~failed]).all()
    assert (probabilities[~failed] == stable_probabilities[~failed]).all()
    (EXAMPLES / "digits-faulty.onnx").write_bytes(faulty_data)
    predictions["digits-faulty"], failures["digits-faulty"] = labels, failed
    meta = digits_meta("digits-faulty", faulty_data,
                       f"digits.onnx plus a Gather indexed by pixel {FAULTY_PIXEL} (row {FAULTY_PIXEL // 8}, "
                       f"column {FAULTY_PIXEL % 8}) into {FAULTY_TABLE_SIZE} zeros: an onnxruntime error "
                       f"when that pixel is >= {FAULTY_TABLE_SIZE}, digits' exact outputs otherwise",
                       split, labels, predictions["digits"])
    meta.update({
        "test_accuracy_note": "failed rows count as wrong",
        "error_share": round(float(failed.mean()), 4),
        "accuracy_of_answers": round(float((labels[~failed] == y_test[~failed]).mean()), 4),
        "fails_when": f"input[:, {FAULTY_PIXEL}] >= {FAULTY_TABLE_SIZE} in any row of the request",
    })
    write_json(EXAMPLES / "digits-faulty.json", meta)
    # Its answers on the training rows are digits' where it answers at all.
    answered = x_train[:, FAULTY_PIXEL] < FAULTY_TABLE_SIZE
    write_json(EXAMPLES / "digits-faulty.profile.json",
               drift_profile(x_train, train_labels["digits"][answered], classes_of=train_labels["digits"]))

    slow_data, out = write_model(EXAMPLES, "digits-slow.onnx", slow_digits(stable_model), {"input": x})
    assert (out["label"] == stable_out["label"]).all()
    assert (out["probabilities"] == stable_out["probabilities"]).all()
    predictions["digits-slow"] = out["label"]
    meta = digits_meta("digits-slow", slow_data,
                       f"digits.onnx plus {SLOW_LAYERS} MatMul+Tanh layers over {SLOW_ROWS} copies of the "
                       "first input row, whose result adds an exact zero: digits' outputs, slowly",
                       split, out["label"], predictions["digits"])
    meta["extra_work"] = {"matmul_multiply_adds": SLOW_LAYERS * SLOW_ROWS * 64 * 64, "per": "inference (not per row)"}
    write_json(EXAMPLES / "digits-slow.json", meta)
    write_json(EXAMPLES / "digits-slow.profile.json", drift_profile(x_train, train_labels["digits"]))
    write_samples(x_test, y_test, predictions, failures)
    write_drift_samples(x_test)


# Drift profiles (contract/drift.ts ReferenceProfile), by the rule of contract/drift.ts edgesFor
# (which the router applies to a reference taken from live rows): candidate edges are a feature's
# distinct values when it has at most PROFILE_MAX_BINS - 1 (the digits' pixels: integers 0..16,
# whose quantile edges would collapse onto 0), else its distinct deciles; a bin closes once it holds
# PROFILE_MIN_SHARE of the rows, and a remainder joins the last bin, whose edge becomes the largest
# candidate. One bin above that catches values never seen.
PROFILE_MAX_BINS = 20
PROFILE_MIN_SHARE = 0.05


def feature_bins(values: np.ndarray) -> dict:
    """One feature's bin edges (ascending upper bounds, plus a top bin above the last) and the share
    of reference rows in each."""
    ordered = np.sort(values)
    candidates = np.unique(ordered)
    if len(candidates) > PROFILE_MAX_BINS - 1:
        candidates = np.unique(ordered[[int(np.floor(q / 10 * (len(ordered) - 1))) for q in range(1, 10)]])
    edges, held, i = [], 0, 0
    for c in candidates:
        while i < len(ordered) and ordered[i] <= c:
            i += 1
            held += 1
        if held >= PROFILE_MIN_SHARE * len(ordered):
            edges.append(c)
            held = 0
    if held > 0:
        if edges:
            edges[-1] = candidates[-1]
        else:
            edges.append(candidates[-1])
    edges = np.array(edges)
    bins = np.searchsorted(edges, values, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return {"edges": [float(e) for e in edges], "proportions": [float(c) / len(values) for c in counts]}


def drift_profile(x: np.ndarray, labels: np.ndarray, classes_of: np.ndarray | None = None) -> dict:
    """The reference profile of a digits model: its input's 64 pixels over the training rows `x`,
    and the share of each class among its predicted `labels` (classes: those of `classes_of`)."""
    classes = np.unique(labels if classes_of is None else classes_of)
    counts = [int((labels == c).sum()) for c in classes]
    return {
        "version": 1,
        "rows": int(len(x)),
        "inputs": [{"name": "input", "features": [feature_bins(x[:, j]) for j in range(x.shape[1])]}],
        "outputs": [{"name": "label", "classes": [int(c) for c in classes],
                     "proportions": [c / len(labels) for c in counts]}],
    }


# Shifted request sets for drift tests and `make bench-drift`: the test rows with gaussian noise
# (sd DRIFT_NOISE_SD, clipped to 0..16), inverted (16 - x), and 8x8 patches of another data set
# (scikit-learn's bundled photos, in grey, scaled to 0..16).
DRIFT_NOISE_SD = 3.0


def v2_body(row: np.ndarray) -> dict:
    """One row as a V2 request body for the digits models."""
    return {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                        "data": [round(float(v), 2) for v in row]}]}


def write_jsonl(path: Path, rows: np.ndarray) -> None:
    """One V2 request body per line."""
    path.write_text("".join(json.dumps(v2_body(r)) + "\n" for r in rows))


def image_patches(count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` 8x8 grey patches of sklearn's sample photos, each pixel scaled to 0..16."""
    patches = []
    for image in load_sample_images().images:
        grey = image.astype(np.float64).mean(axis=2)
        for _ in range(count // 2 + 1):
            r = int(rng.integers(0, grey.shape[0] - 8))
            c = int(rng.integers(0, grey.shape[1] - 8))
            patches.append(np.round(grey[r:r + 8, c:c + 8].reshape(64) * 16 / 255))
    return np.array(patches[:count])


def write_drift_samples(x_test: np.ndarray) -> None:
    """samples/test.v2.jsonl (the test split) and samples/shifted/{noise,inverted,images}.v2.jsonl."""
    rng = np.random.default_rng(DIGITS_SEED)
    shifted = EXAMPLES / "samples" / "shifted"
    shifted.mkdir(parents=True, exist_ok=True)
    write_jsonl(EXAMPLES / "samples" / "test.v2.jsonl", x_test)
    write_jsonl(shifted / "noise.v2.jsonl", np.clip(x_test + rng.normal(0, DRIFT_NOISE_SD, x_test.shape), 0, 16))
    write_jsonl(shifted / "inverted.v2.jsonl", 16 - x_test)
    write_jsonl(shifted / "images.v2.jsonl", image_patches(len(x_test), rng))


def write_samples(x_test: np.ndarray, y_test: np.ndarray, predictions: dict, failures: dict) -> None:
    """Labelled sample requests: for each digit, the first test image that digits.onnx AND
    digits-v2.onnx classify correctly (so a test may assert the label for either model), in
    both protocols, plus one V2 batch of all ten. samples/index.json lists every file with its
    true label(s) and what each model predicts for it: null where the model fails on the file
    (`failures` maps a model to its failed test rows; one failing row fails a whole batch)."""
    samples = EXAMPLES / "samples"
    samples.mkdir(exist_ok=True)
    for old in samples.glob("*.json"):
        old.unlink()
    good = (predictions["digits"] == y_test) & (predictions["digits-v2"] == y_test)
    index, rows = [], []
    for digit in range(10):
        row = int(np.flatnonzero(good & (y_test == digit))[0])
        pixels = [float(v) for v in x_test[row]]
        rows.append(pixels)
        v1, v2 = f"digit-{digit}.v1.json", f"digit-{digit}.v2.json"
        write_json(samples / v1, {"instances": [pixels]}, indent=None)
        write_json(samples / v2, {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                                              "data": pixels}]}, indent=None)
        predicted = {name: None if name in failures and failures[name][row] else [int(p[row])]
                     for name, p in predictions.items()}
        index += [{"file": v1, "protocol": "v1", "test_row": row, "labels": [digit], "predicted": predicted},
                  {"file": v2, "protocol": "v2", "test_row": row, "labels": [digit], "predicted": predicted}]
    batch = "digits-0-9.v2.json"
    write_json(samples / batch, {"inputs": [{"name": "input", "shape": [10, 64], "datatype": "FP32",
                                             "data": [v for r in rows for v in r]}]}, indent=None)
    singles = [e["predicted"] for e in index[::2]]
    index.append({"file": batch, "protocol": "v2", "labels": list(range(10)),
                  "predicted": {name: None if any(p[name] is None for p in singles)
                                else [p[name][0] for p in singles]
                                for name in predictions}})
    write_json(samples / "index.json", {
        "note": "labels: the true digits (digits.onnx and digits-v2.onnx predict every one); "
                "predicted: the label each model returns for the file, null where the model fails "
                "on it (an onnxruntime error: digits-faulty)",
        "samples": index,
    })


def main() -> int:
    """Build every model, then write each folder's SHA256SUMS and print it."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    build_tiny()
    build_fixed_batch()
    build_mlp()
    build_two_inputs()
    build_scalar_sum()
    build_dtypes()
    build_echo_per_dtype()
    build_digits()
    write_sums(FIXTURES)
    write_sums(EXAMPLES)
    for folder in (FIXTURES, EXAMPLES):
        print((folder / "SHA256SUMS").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
