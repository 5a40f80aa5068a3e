"""Draw bench/results/coldstart.png from coldstart.json: per scenario, one horizontal bar of the median
parts of a start from zero (trigger -> first correct answer), stacked in the order they happen, with
each round's total as a dot, the median moment the server could answer (model ready) as a triangle,
and the 2 s goal as a line.

Usage: chart.py coldstart.json out.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

# One colour per group of parts: control plane, node, server, probes, service path.
COLOURS = {
    "held": "#393b79",
    "scaled": "#9467bd",
    "podCreated": "#c5b0d5",
    "scheduled": "#c5b0d5",
    "kubeletSaw": "#8c564b",
    "sandboxStarted": "#c49c94",
    "containerStarted": "#e377c2",
    "listening": "#1f77b4",
    "modelFetched": "#ffbb78",
    "sessionCreated": "#ff7f0e",
    "warmedUp": "#e6550d",
    "modelReady": "#fdae6b",
    "direct": "#17becf",
    "startupProbe": "#bcbd22",
    "readinessProbe": "#d62728",
    "podReady": "#ff9896",
    "endpointReady": "#2ca02c",
    "serviceRoutes": "#98df8a",
    "unheld": "#9edae5",
    "answered": "#7f7f7f",
}


def main(json_path, png_path):
    with open(json_path) as f:
        report = json.load(f)
    summary = report["summary"]
    fig, ax = plt.subplots(figsize=(12, 1.2 + 1.1 * len(summary)))
    labelled = set()
    for y, row in enumerate(reversed(summary)):
        left = 0.0
        for part in row["parts"]:
            width = part["ms"] / 1000
            label = part["name"] if part["mark"] not in labelled else None
            labelled.add(part["mark"])
            ax.barh(y, width, left=left, color=COLOURS.get(part["mark"], "#bbbbbb"), height=0.6, label=label)
            if width >= 0.12:
                ax.text(left + width / 2, y, f"{width:.2f}", ha="center", va="center", fontsize=7)
            left += width
        each = [ms / 1000 for ms in row["eachMs"] if ms is not None]
        ax.scatter(each, [y + 0.4] * len(each), s=12, color="black", zorder=3)
        ready = row.get("serverReadyMs")
        if ready is not None:
            ax.plot([ready / 1000], [y - 0.4], marker="^", color="black", markersize=6,
                    label="server could answer (median)" if y == 0 else None)
        total = row.get("totalMs")
        if total is not None:
            ax.text(max([left] + each) + 0.05, y, f"median {total / 1000:.2f} s", va="center", fontsize=8)
    ax.axvline(2.0, color="black", linestyle="--", linewidth=1)
    ax.text(2.0, len(summary) - 0.45, " goal 2 s", fontsize=8, va="bottom")
    ax.set_yticks(range(len(summary)), [row["scenario"] for row in reversed(summary)])
    ax.set_xlabel("seconds from the trigger (bars: median of each part; dots: each round's first answer)")
    ax.set_ylim(-0.6, len(summary) - 0.1)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    fig.suptitle(
        f"Cold start from zero, digits on a warm real node ({report['when'][:10]}, commit {report['commit']}, "
        f"{report['cpus']} cores)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
