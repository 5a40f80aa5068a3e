/**
 * What the monitoring e2e reads from the chart's monitoring files: the dashboard's queries with its
 * template variables filled in, the parts of a rule expression that must each have data, and a
 * Prometheus scrape config equivalent to a PodMonitor (its selector and relabelings applied to
 * file_sd targets that carry Kubernetes pod discovery's meta labels). Pure functions.
 */

/** One query of one dashboard panel. */
export interface PanelQuery {
  /** The panel's title, with its row's: `Row / Panel`. */
  panel: string;
  refId: string;
  legend: string;
  expr: string;
}

interface DashboardPanel {
  type: string;
  title: string;
  targets?: { refId: string; expr: string; legendFormat?: string }[];
}

/**
 * Every query of every panel of a Grafana dashboard JSON model, in order, with `$name` and `${name}`
 * replaced from `vars` (Grafana's own `$__rate_interval` included). Throws naming a variable left unset.
 */
export function dashboardQueries(dashboard: { panels: DashboardPanel[] }, vars: Record<string, string>): PanelQuery[] {
  const out: PanelQuery[] = [];
  let row = '';
  for (const p of dashboard.panels) {
    if (p.type === 'row') {
      row = p.title;
      continue;
    }
    for (const t of p.targets ?? []) {
      const expr = t.expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
        const name = (a ?? b)!;
        if (!(name in vars)) throw new Error(`panel "${p.title}": no value for the variable $${name}`);
        return vars[name]!;
      });
      out.push({ panel: `${row} / ${p.title}`, refId: t.refId, legend: t.legendFormat ?? '', expr });
    }
  }
  return out;
}

const OPEN = '({[';
const CLOSE = ')}]';
/** Binary operators an alert joins its parts with: set operators and comparisons (arithmetic stays inside a part). */
const SPLIT = /^(?:and\b|or\b|unless\b|==|!=|>=|<=|>|<)/;
/** Vector matching and `bool` that may open the right-hand part of a binary operator. */
const MODIFIER = /^\s*(?:bool\b|(?:on|ignoring|group_left|group_right)\s*\([^)]*\))\s*/;
/** A part that is only a number (a threshold such as `14.4 * (1 - 0.999)`). */
const NUMERIC = /^[\d\s.*+\-/()e]+$/;

/** Splits `expr` at its top-level binary set and comparison operators. */
function splitTopLevel(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quote = '';
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth--;
    else if (depth === 0 && (i === 0 || /[\s)\]}]/.test(expr[i - 1]!) || /[=!<>]/.test(c))) {
      const m = SPLIT.exec(expr.slice(i));
      if (m && !(c === '=' && expr[i + 1] === '~')) {
        parts.push(expr.slice(start, i));
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return parts;
}

/** Whether `expr` is one parenthesised expression: its first `(` closes at its end. */
function wrapped(expr: string): boolean {
  if (!expr.startsWith('(') || !expr.endsWith(')')) return false;
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === '(') depth++;
    else if (expr[i] === ')' && --depth === 0) return i === expr.length - 1;
  }
  return false;
}

/**
 * The parts of a rule expression that must each return data for the rule to mean anything: the
 * operands of its top-level `and`/`or`/`unless` and comparisons, parenthesised groups opened in
 * turn, thresholds (numbers) left out. `a > 0.5` gives `a`; `(x or vector(0)) / y > 0.5` gives the
 * ratio; `(a > t and b > t) or (c > t and d > t)` gives a, b, c and d.
 */
export function ruleOperands(expr: string): string[] {
  return splitTopLevel(expr.trim()).flatMap((raw) => {
    let part = raw.trim();
    for (let m = MODIFIER.exec(part); m; m = MODIFIER.exec(part)) part = part.slice(m[0].length).trim();
    if (part === '' || NUMERIC.test(part)) return [];
    if (wrapped(part)) {
      const inner = part.slice(1, -1).trim();
      const parts = ruleOperands(inner);
      return parts.length === 1 && parts[0] === inner ? [part] : parts;
    }
    return [part];
  });
}

/** A PodMonitor as the chart renders it (the fields this conversion reads). */
export interface PodMonitorLike {
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    podMetricsEndpoints: {
      port: string;
      path?: string;
      relabelings?: {
        sourceLabels?: string[];
        separator?: string;
        targetLabel?: string;
        regex?: string;
        replacement?: string;
        action?: string;
      }[];
    }[];
  };
}

/** Kubernetes pod discovery's name for a pod label: every character outside [a-zA-Z0-9_] becomes `_`. */
export function podLabelMeta(label: string): string {
  return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/**
 * The Prometheus scrape config the Prometheus operator would generate for `pm`'s first endpoint, over
 * file_sd targets (`files`) that carry pod discovery's meta labels: keep the pods its selector and
 * port name match, label them with namespace and pod as the operator does, then its relabelings.
 */
export function scrapeConfigOf(pm: PodMonitorLike, files: string[], interval: string): Record<string, unknown> {
  const endpoint = pm.spec.podMetricsEndpoints[0]!;
  const keep = Object.entries(pm.spec.selector.matchLabels).map(([label, value]) => ({
    source_labels: [podLabelMeta(label)],
    regex: value,
    action: 'keep',
  }));
  return {
    job_name: pm.metadata.name,
    scrape_interval: interval,
    metrics_path: endpoint.path ?? '/metrics',
    file_sd_configs: [{ files, refresh_interval: '1s' }],
    relabel_configs: [
      ...keep,
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: endpoint.port, action: 'keep' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      ...(endpoint.relabelings ?? []).map((r) => ({
        ...(r.sourceLabels && { source_labels: r.sourceLabels }),
        ...(r.separator !== undefined && { separator: r.separator }),
        ...(r.targetLabel && { target_label: r.targetLabel }),
        ...(r.regex !== undefined && { regex: r.regex }),
        ...(r.replacement !== undefined && { replacement: r.replacement }),
        ...(r.action && { action: r.action.toLowerCase() }),
      })),
    ],
  };
}
