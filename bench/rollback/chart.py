"""Draw bench/results/rollback-real.png from rollback.json (kwok path) and rollback-real.json (real
pods): each trial's latency from the action to every new request on the target, per kind of trial,
and the median of each stage (patch, operator, routers, data path) for the aborts.

Usage: chart.py rollback.json rollback-real.json out.png
"""

import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

PLATFORMS = [("kwok path", "#9ecae1"), ("real pods", "#1f77b4")]
KINDS = [("abort", "abort at 50%"), ("rollback-after-promotion", "rollback after promotion")]
STAGES = [
    ("patch", "#bbbbbb"),
    ("operator", "#ff7f0e"),
    ("routers", "#2ca02c"),
    ("data path", "#9467bd"),
]


def latencies(report, kind):
    return [t["settled"]["latencyMs"] for t in report["trials"] if t["kind"] == kind and "settled" in t]


def unsettled(report, kind):
    return sum(1 for t in report["trials"] if t["kind"] == kind and "settled" not in t)


def median(values):
    """Nearest-rank median, as settle.ts's distribution() reports it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.5 * len(ordered)) - 1)]


def stage_medians(report, kind):
    """Median of each stage over the trials of a kind, as report.ts's breakdown() splits them (ms)."""
    stages = {name: [] for name, _ in STAGES}
    for t in report["trials"]:
        if t["kind"] != kind:
            continue
        stages["patch"].append(t["patchedAt"] - t["actionAt"])
        last_router = max(t["routersAppliedAt"]) if t["routersAppliedAt"] else None
        if "routesSeenAt" in t:
            stages["operator"].append(t["routesSeenAt"] - t["patchedAt"])
            if last_router is not None:
                stages["routers"].append(last_router - t["routesSeenAt"])
        if last_router is not None and "settled" in t:
            stages["data path"].append(t["settled"]["settledAt"] - last_router)
    return [max(0, median(v)) if v else 0 for v in stages.values()]


def main(kwok_path, real_path, png_path):
    reports = []
    for path in (kwok_path, real_path):
        with open(path) as f:
            reports.append(json.load(f))

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    positions, labels = [], []
    for k, (kind, title) in enumerate(KINDS):
        for p, ((name, color), report) in enumerate(zip(PLATFORMS, reports)):
            x = k * 3 + p
            values = latencies(report, kind)
            if values:
                left.boxplot([values], positions=[x], widths=0.6, showfliers=False, medianprops={"color": "black"})
                jitter = [x + (i % 7 - 3) * 0.04 for i in range(len(values))]
                left.scatter(jitter, values, s=10, color=color, alpha=0.8, zorder=3)
            missing = unsettled(report, kind)
            labels.append(f"{name}\n{len(values)} trials" + (f"\n{missing} unsettled" if missing else ""))
            positions.append(x)
        left.text(k * 3 + 0.5, 1.0, title, transform=left.get_xaxis_transform(), ha="center", va="bottom", fontsize=9)
    left.set_xticks(positions, labels, fontsize=8)
    left.set_ylabel("action → every new request on the target (ms)")
    left.set_title("Rollback latency per trial\n", fontsize=10)
    left.set_ylim(bottom=0)
    left.grid(axis="y", alpha=0.3)

    bottoms = [0.0, 0.0]
    medians = [stage_medians(r, "abort") for r in reports]
    for s, (stage, color) in enumerate(STAGES):
        heights = [m[s] for m in medians]
        right.bar([0, 1], heights, bottom=bottoms, color=color, label=stage, width=0.6)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    right.set_xticks([0, 1], [name for name, _ in PLATFORMS])
    right.set_ylabel("ms (median of each stage; negatives drawn as 0)")
    right.set_title("Where the time goes (aborts)", fontsize=10)
    right.set_ylim(top=max(bottoms) * 1.45)
    right.legend(fontsize=8, loc="upper left", ncols=2)
    right.grid(axis="y", alpha=0.3)

    fig.suptitle(f"Rollback, kwok path ({reports[0]['date'][:10]}) vs real pods ({reports[1]['date'][:10]}), 2-core machine", fontsize=11)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
