"""A ~100 MB ONNX model for the model-source benchmark: y = x @ W with W a fixed float32 [64, N].

Deterministic (seeded), so every run and machine gets the same bytes and sha256, and generated at
bench time rather than committed: 100 MB does not belong in git. The model is real (onnxruntime loads
it and answers), which is what apply -> Ready measures.

Usage: python bench/sources/large_model.py <out.onnx> [megabytes=100] [seed=14]

Another seed gives another model of the same size (the benchmark's "different model" on the node).
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(megabytes: int, seed: int = 14) -> onnx.ModelProto:
    rows = 64
    cols = megabytes * 1024 * 1024 // (4 * rows)
    weight = np.random.default_rng(seed).standard_normal((rows, cols), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "large",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", cols])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modelship-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> int:
    if len(sys.argv) not in (2, 3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    megabytes = int(sys.argv[2]) if len(sys.argv) >= 3 else 100
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 14
    onnx.save(build(megabytes, seed), sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
