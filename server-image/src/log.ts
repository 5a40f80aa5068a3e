/**
 * Structured logs: one JSON object per line with `ts`, `level`, `msg` and the event's fields, so
 * log pipelines (Loki, Cloud Logging, `jq`) read them without parsing prose.
 */

/** Severity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra structured data for one event. */
export type LogFields = Record<string, unknown>;

/** A leveled logger that writes one JSON line per event. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether events at `level` are written; lets callers skip building costly fields. */
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every event. */
  child(fields: LogFields): Logger;
}

/** Serialise one event; errors become {name, message} and bigints become strings. */
export function formatLogLine(level: LogLevel, msg: string, fields: LogFields, now: Date): string {
  const event = { ts: now.toISOString(), level, msg, ...fields };
  return JSON.stringify(event, (_key, value: unknown) => {
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (typeof value === 'bigint') return value.toString();
    return value;
  });
}

/**
 * A logger writing to `write` (stdout by default) at or above `level`. Logging must never throw
 * into the caller, so an unserialisable field is replaced by a note rather than propagating.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  base: LogFields = {},
): Logger {
  const min = RANK[level];
  const emit = (at: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[at] < min) return;
    let line: string;
    try {
      line = formatLogLine(at, msg, { ...base, ...fields }, new Date());
    } catch (err) {
      line = formatLogLine(at, msg, { ...base, logError: (err as Error).message }, new Date());
    }
    write(line);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    enabled: (at) => RANK[at] >= min,
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
  };
}
