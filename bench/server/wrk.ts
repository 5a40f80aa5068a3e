/**
 * wrk invocation and result parsing, pure. The Lua script (v2.lua) prints one `BENCH_RESULT {...}`
 * line from its done() hook; this module turns it into figures.
 */

/** What wrk measured in one run, latencies in milliseconds. */
export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  bytes: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Responses with status >= 400 (wrk's own count). */
  badStatus: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
}

/** The raw line v2.lua prints. */
interface RawResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

const MARKER = 'BENCH_RESULT ';

/** Parse wrk's stdout; throws naming what is missing when the script's line is absent or broken. */
export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (line === undefined)
    throw new Error(`parse wrk output: no ${MARKER.trim()} line in ${JSON.stringify(stdout.slice(0, 300))}`);
  let raw: RawResult;
  try {
    raw = JSON.parse(line.slice(MARKER.length)) as RawResult;
  } catch (err) {
    throw new Error(`parse wrk output: ${(err as Error).message} in ${JSON.stringify(line)}`, { cause: err });
  }
  const ms = (us: number): number => us / 1000;
  const durationSeconds = raw.durationUs / 1e6;
  const e = raw.errors;
  return {
    requests: raw.requests,
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? raw.requests / durationSeconds : 0,
    bytes: raw.bytes,
    latencyMs: {
      p50: ms(raw.latencyUs.p50),
      p90: ms(raw.latencyUs.p90),
      p99: ms(raw.latencyUs.p99),
      max: ms(raw.latencyUs.max),
      mean: ms(raw.latencyUs.mean),
    },
    badStatus: e.status,
    socketErrors: e.connect + e.read + e.write + e.timeout,
  };
}

/** How one wrk run is shaped. */
export interface WrkRun {
  url: string;
  script: string;
  threads: number;
  connections: number;
  seconds: number;
  /** Generous, so a slow server's requests are measured rather than counted as timeouts. */
  timeoutSeconds: number;
}

/** wrk's command-line arguments for one run. */
export function wrkArgs(run: WrkRun): string[] {
  return [
    '--threads',
    String(run.threads),
    '--connections',
    String(run.connections),
    '--duration',
    `${run.seconds}s`,
    '--timeout',
    `${run.timeoutSeconds}s`,
    '--latency',
    '--script',
    run.script,
    run.url,
  ];
}
