/**
 * The structured logger of every Modelship process (operator, router, inference server): one JSON
 * object per line on stdout, `time`, `level` and `msg` first and then the event's fields, so log
 * pipelines (Loki, Cloud Logging, `jq`) read them without parsing prose. `time` is the key Cloud
 * Logging, Fluent Bit's JSON parser, pino and Go's slog take as the entry's timestamp.
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

/**
 * An Error as its message, with its cause's message when that adds something: never a stack dump
 * (which may hold secrets), and never `{}`, which is what JSON.stringify makes of an Error.
 */
function errorText(err: Error): string {
  const cause = err.cause;
  return cause instanceof Error && !err.message.includes(cause.message)
    ? `${err.message} (cause: ${cause.message})`
    : err.message;
}

/** Serialise one event; errors (at any depth) become their message and bigints strings. */
export function formatLogLine(level: LogLevel, msg: string, fields: LogFields, now: Date): string {
  const event = { time: now.toISOString(), level, msg, ...fields };
  return JSON.stringify(event, (_key, value: unknown) => {
    if (value instanceof Error) return errorText(value);
    if (typeof value === 'bigint') return value.toString();
    return value;
  });
}

/**
 * A logger writing to `write` (stdout by default) at or above `level`, adding `base` to every
 * event. Logging must never throw into the caller, so an unserialisable field is replaced by a
 * note rather than propagating.
 */
export function createLogger(
  level: LogLevel = 'info',
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
