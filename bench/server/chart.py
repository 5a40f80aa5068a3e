"""Draw bench/results/server.png from server.json: throughput (median round, whiskers spanning all
rounds), p99 latency and server CPU time per request, per model and payload.

Usage: chart.py server.json server.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

SERIES = [
    ("echo", None, "node:http echo (ceiling)", "#bbbbbb"),
    ("flask", None, "Flask + gunicorn (2 sync workers)", "#d62728"),
    ("modelship", False, "Modelship, batching off", "#9ecae1"),
    ("modelship", True, "Modelship", "#1f77b4"),
]
GROUPS = [("tiny", "json"), ("tiny", "binary"), ("mlp", "json"), ("mlp", "binary")]


def find(cells, kind, batching, model, payload):
    for cell in cells:
        if cell["kind"] != kind or cell["model"] != model or cell["payload"] != payload:
            continue
        if kind == "modelship" and bool(cell["batching"]) != batching:
            continue
        return cell
    return None


def flagged(cell):
    load = cell.get("load")
    return cell.get("failure") is not None or load is None or load["badStatus"] + load["socketErrors"] > 0


def main(json_path, png_path):
    with open(json_path) as f:
        report = json.load(f)
    cells = report["cells"]
    fig, (ax_rps, ax_p99, ax_cpu) = plt.subplots(1, 3, figsize=(17, 5.2))
    width = 0.8 / len(SERIES)
    for i, (kind, batching, label, color) in enumerate(SERIES):
        xs, rps, low, high, p99, cpu, hatches = [], [], [], [], [], [], []
        for g, (model, payload) in enumerate(GROUPS):
            cell = find(cells, kind, batching, model, payload)
            if cell is None or cell.get("load") is None:
                continue
            load = cell["load"]
            each = [r for r in cell.get("roundsRequestsPerSecond") or [] if r is not None] or [load["requestsPerSecond"]]
            xs.append(g + (i - (len(SERIES) - 1) / 2) * width)
            rps.append(load["requestsPerSecond"])
            low.append(load["requestsPerSecond"] - min(each))
            high.append(max(each) - load["requestsPerSecond"])
            p99.append(load["latencyMs"]["p99"])
            seconds = cell.get("serverCpuSeconds")
            cpu.append(seconds * 1000 / load["requests"] if seconds is not None and load["requests"] else 0)
            hatches.append("//" if flagged(cell) else "")
        if not xs:
            continue
        bars = ax_rps.bar(xs, rps, width, label=label, color=color, yerr=[low, high], capsize=2)
        ax_p99.bar(xs, p99, width, label=label, color=color)
        ax_cpu.bar(xs, cpu, width, label=label, color=color)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
    names = [f"{m}\n{p}" for m, p in GROUPS]
    for ax in (ax_rps, ax_p99, ax_cpu):
        ax.set_xticks(range(len(GROUPS)), names)
        ax.grid(axis="y", alpha=0.3)
    ax_rps.set_ylabel("requests / s (log scale, higher is better)")
    ax_rps.set_yscale("log")
    ax_rps.set_title(
        "Throughput at %d connections (median of %d rounds, whiskers: all)"
        % (report["settings"]["connections"], report["settings"]["rounds"]),
        fontsize=10,
    )
    ax_p99.set_ylabel("p99 latency, ms (log scale, lower is better)")
    ax_p99.set_yscale("log")
    ax_p99.set_title("p99 latency")
    ax_cpu.set_ylabel("server CPU ms per request (log scale, lower is better)")
    ax_cpu.set_yscale("log")
    ax_cpu.set_title("CPU cost per request")
    ax_rps.legend(fontsize=8)
    machine = report["machine"]
    fig.suptitle(
        "V2 infer, %d CPUs shared with other work, Node %s / Python %s, %s (hatched = errors)"
        % (machine["cpus"], machine["node"], machine["python"], report["startedAt"][:16].replace("T", " ")),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
