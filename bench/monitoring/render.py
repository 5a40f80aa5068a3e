"""Draw the Modelship Grafana dashboard's panels from a real run: the range data the monitoring e2e
(test/e2e/monitoring.test.ts, with MODELSHIP_DASHBOARD_DATA set) read from Prometheus for every query
of charts/modelship/dashboards/modelship.json, laid out on the dashboard's own grid, so a reader sees
what an operator sees in Grafana.

Usage: render.py dashboard.json data.json out.png
"""

import json
import math
import re
import sys
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.gridspec import GridSpec  # noqa: E402

ROW_HEIGHT = 1  # grid units of a row header
UNIT_SCALE = {"s": (1000, "ms"), "percentunit": (100, "%"), "bytes": (1 / 2**20, "MiB")}
UNIT_NAME = {"reqps": "req/s", "ops": "/s", "percent": "%", "short": ""}


def legend_of(fmt, labels):
    """Grafana's legendFormat: {{label}} replaced by the series' label value."""
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text.strip() or ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


def scaled(unit, value):
    factor, _ = UNIT_SCALE.get(unit, (1, ""))
    return value * factor


def unit_label(unit):
    return UNIT_SCALE[unit][1] if unit in UNIT_SCALE else UNIT_NAME.get(unit, unit)


def points(series, start):
    """(seconds since the run's start, value) pairs, NaN where Prometheus had no finite value."""
    xs, ys = [], []
    for t, v in series.get("values", []):
        xs.append(float(t) - start)
        ys.append(float(v) if v not in ("NaN", "+Inf", "-Inf") else math.nan)
    return xs, ys


def shorten(text, md):
    """Revision names without the ModelDeployment's prefix: `digits-1a2b3c4d5e` reads `1a2b3c4d5e`."""
    return text.replace(f"{md}-", "")


PALETTE = ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
STYLES = {"A": "-", "B": "--", "C": ":"}
colors = {}


def color_of(labels):
    """One colour per revision (or other series identity) across every panel, in order of appearance."""
    key = labels.get("revision") or ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    if key not in colors:
        colors[key] = PALETTE[len(colors) % len(PALETTE)]
    return colors[key]


def draw_timeseries(ax, panel, queries, start, md):
    unit = panel["fieldConfig"]["defaults"].get("unit", "short")
    for q in queries:
        for s in q["series"]:
            xs, ys = points(s, start)
            ax.plot(
                xs,
                [scaled(unit, y) for y in ys],
                lw=1.2,
                ls=STYLES.get(q["refId"], "-"),
                color=color_of(s["metric"]),
                label=shorten(legend_of(q["legend"], s["metric"]), md),
            )
    ax.set_ylabel(unit_label(unit), fontsize=7)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=6, loc="upper left", ncol=2 if len(ax.lines) > 4 else 1, framealpha=0.6)


def draw_state_timeline(ax, queries, start, md):
    """One lane per series: a bar where the state held (the query returned 1)."""
    lanes = []
    for q in queries:
        for s in q["series"]:
            xs, ys = points(s, start)
            lanes.append((shorten(legend_of(q["legend"], s["metric"]), md), xs))
    step = 2
    colors = {"Pending": "#bbbbbb", "Shadow": "#9467bd", "Progressing": "#1f77b4", "Paused": "#ff7f0e",
              "Promoted": "#2ca02c", "RolledBack": "#d62728"}
    for i, (name, xs) in enumerate(lanes):
        color = next((c for k, c in colors.items() if name.endswith(k)), "#1f77b4")
        ax.broken_barh([(x, step) for x in xs], (i - 0.4, 0.8), color=color)
    ax.set_yticks(range(len(lanes)), [n for n, _ in lanes], fontsize=6)
    ax.grid(axis="x", alpha=0.3)


def last_value(series):
    for _, v in reversed(series.get("values", [])):
        if v != "NaN":
            return float(v)
    return math.nan


def draw_stat(ax, queries, md):
    names, values = [], []
    for q in queries:
        for s in q["series"]:
            names.append(shorten(legend_of(q["legend"], s["metric"]), md))
            values.append(last_value(s))
    ax.barh(range(len(values)), values, color="#1f77b4")
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:g}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlim(0, max([v for v in values if not math.isnan(v)] + [1]) * 1.3)
    ax.set_xticks([])


def draw_table(ax, queries, end, step):
    """An instant table as Grafana shows it at the end of the run: the series that hold 1 then."""
    rows = []
    for q in queries:
        for s in q["series"]:
            values = s.get("values", [])
            if values and float(values[-1][0]) >= end - step and values[-1][1] == "1":
                rows.append([s["metric"].get(k, "") for k in ("type", "status", "reason")])
    ax.axis("off")
    if rows:
        table = ax.table(cellText=rows, colLabels=["type", "status", "reason"], loc="upper center", cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        table.scale(1, 1.3)


def main(dashboard_path, data_path, png_path):
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    with open(data_path) as f:
        run = json.load(f)
    start, end, md = run["run"]["start"], run["run"]["end"], run["modeldeployment"]
    by_panel = {}
    for q in run["data"]:
        by_panel.setdefault(q["panel"], []).append(q)

    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    fig = plt.figure(figsize=(24, bottom * 0.42))
    grid = GridSpec(bottom, 24, figure=fig, hspace=2.2, wspace=1.4, left=0.03, right=0.99, top=0.96, bottom=0.02)
    when = datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(
        f"Modelship dashboard, ModelDeployment {run['namespace']}/{md}: a real run of {end - start} s from {when} "
        "(first revision under load, a mirrored canary promoted, a failing canary rolled back)",
        fontsize=13,
    )
    row = ""
    for p in dashboard["panels"]:
        g = p["gridPos"]
        if p["type"] == "row":
            row = p["title"]
            ax = fig.add_subplot(grid[g["y"], :])
            ax.axis("off")
            ax.text(0, 0.5, row, fontsize=12, fontweight="bold", va="center")
            continue
        ax = fig.add_subplot(grid[g["y"] : g["y"] + g["h"], g["x"] : g["x"] + g["w"]])
        ax.set_title(p["title"], fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        queries = by_panel.get(f"{row} / {p['title']}", [])
        if p["type"] == "timeseries":
            draw_timeseries(ax, p, queries, start, md)
            ax.set_xlim(0, end - start)
        elif p["type"] == "state-timeline":
            draw_state_timeline(ax, queries, start, md)
            ax.set_xlim(0, end - start)
        elif p["type"] == "stat":
            draw_stat(ax, queries, md)
        elif p["type"] == "table":
            draw_table(ax, queries, end, run["step"])
        if p["type"] in ("timeseries", "state-timeline"):
            ax.set_xlabel("seconds into the run", fontsize=7)
    fig.savefig(png_path, dpi=70)


if __name__ == "__main__":
    main(*sys.argv[1:])
