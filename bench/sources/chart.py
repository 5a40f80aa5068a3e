"""Draw bench/results/sources.png from sources.json: left, download throughput per source (ours beside
each baseline, transfer-only, median MB/s); right, time to ready per source for the first pod (agent
cold), a second pod and a rollback target (agent warm) and a pod with no agent, split into fetch,
session load and the rest.

Usage: chart.py sources.json out.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

SCENARIOS = [("cold", "cold"), ("warm", "2nd\npod"), ("rollback", "roll-\nback"), ("direct", "no\nagent")]
PARTS = [("fetch", "#1f77b4"), ("session load + warm-up", "#ff7f0e"), ("process start + rest", "#bbbbbb")]


def median(values):
    """The lower middle, as report.ts's median()."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else float("nan")


def mbps(row, copier):
    ms = median([r.get("transferMs", r["wallMs"]) for r in copier["runs"]])
    return row["bytes"] / 1e6 / (ms / 1000)


def main(json_path, png_path):
    with open(json_path) as f:
        report = json.load(f)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1, 1.3]})

    x, ticks, labels, top = 0.0, [], [], 0.0
    for row in report["throughput"]:
        ours = mbps(row, row["ours"])
        for baseline in row["baselines"]:
            theirs = mbps(row, baseline)
            left.bar(x - 0.2, ours, width=0.4, color="#1f77b4", label="ours (downloadVerified)" if x == 0 else None)
            left.bar(x + 0.2, theirs, width=0.4, color="#9e9e9e", label="the store's own client" if x == 0 else None)
            top = max(top, ours, theirs)
            left.text(x, max(ours, theirs) * 1.02, f"{ours / theirs:.2f}×", ha="center", va="bottom", fontsize=8)
            ticks.append(x)
            labels.append(f"{row['source']} vs\n{baseline['short']}")
            x += 1
    left.set_xticks(ticks, labels, fontsize=8)
    left.set_ylim(top=top * 1.12)
    left.set_ylabel("MB/s (median, transfer only)")
    left.set_title("Download throughput, ~100 MB model, loopback store", fontsize=10)
    left.legend(fontsize=8, loc="upper right")
    left.grid(axis="y", alpha=0.3)

    x, ticks, labels = 0.0, [], []
    for row in report["starts"]:
        for scenario, name in SCENARIOS:
            rounds = [r[scenario] for r in row["rounds"]]
            ready = median([p["readyMs"] for p in rounds])
            fetch = median([p.get("fetchMs", 0) for p in rounds])
            load = median([p.get("loadMs", 0) for p in rounds])
            parts = [fetch, max(0, load - fetch), max(0, ready - load)]
            bottom = 0
            for (part, color), height in zip(PARTS, parts):
                right.bar(x, height / 1000, bottom=bottom / 1000, color=color, width=0.8, label=part if x == 0 else None)
                bottom += height
            ticks.append(x)
            labels.append(name)
            x += 1
        right.text(x - 2.5, 1.0, row["source"], transform=right.get_xaxis_transform(), ha="center", va="bottom", fontsize=9)
        x += 0.8
    right.set_xticks(ticks, labels, fontsize=7)
    right.set_ylabel("spawn → /v2/health/ready (s, median)")
    right.set_title("Cold vs warm start with the node cache agent\n", fontsize=10)
    right.legend(fontsize=8, loc="upper right")
    right.grid(axis="y", alpha=0.3)

    fig.suptitle(f"Model sources ({report['at'][:10]}, commit {report['commit']}, {report['machine'].split(',')[0]})", fontsize=11)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
