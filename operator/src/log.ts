/**
 * JSON-lines logger for the operator: one object per line on stdout (stderr for errors), with
 * time, level and message first, so log pipelines need no parsing rules.
 */

/** Severity, lowest first. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Serialises an Error to its message (and the cause's), never to a stack dump of secrets. */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const cause = (value as Error & { cause?: unknown }).cause;
    return cause instanceof Error && !value.message.includes(cause.message)
      ? `${value.message} (cause: ${cause.message})`
      : value.message;
  }
  return value;
}

/** Creates a logger writing lines at or above minLevel through write. */
export function createLogger(
  minLevel: Level = 'info',
  write: (line: string, level: Level) => void = (line, level) =>
    (level === 'error' ? process.stderr : process.stdout).write(line + '\n'),
  now: () => Date = () => new Date(),
): Logger {
  const log = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const entry: Record<string, unknown> = { time: now().toISOString(), level, msg };
    for (const [k, v] of Object.entries(fields ?? {})) entry[k] = plain(v);
    write(JSON.stringify(entry), level);
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}
