/**
 * How every Modelship process reads its settings (the operator's, the server's and the router's
 * config.ts): one style, so that a setting means the same kind of thing wherever it is set.
 *
 * - A setting has a flag, an environment variable, or both; a flag wins over its variable.
 * - An empty value counts as unset (Kubernetes writes `value: ""` for a variable meant to be off).
 * - An invalid value is a {@link ConfigError} of one line naming the flag or variable, the value
 *   and what was expected: `invalid MODELSHIP_PORT="70000": expected a port number 0-65535`.
 *
 * It lives in contract/ because the variables it reads are what the operator writes into pods
 * (contract/env.ts names them); it has no process-specific knowledge.
 */
import { parseArgs } from 'node:util';

/** An invalid configuration; the message is a single line fit for stderr. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Where a setting is read from: its flag (without `--`; `boolean` when it takes no value), its
 * environment variable, or both; a string names a variable that has no flag.
 */
export type SettingName = string | { flag?: string; env?: string; boolean?: true };

/** The flags given on a command line, by name. */
export type Flags = Readonly<Record<string, string | boolean | undefined>>;

/** A process's environment. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses a command line (without node and the script) that may carry the flags of `settings`.
 * Throws a ConfigError naming an unknown flag or a stray argument.
 */
export function parseFlags(argv: readonly string[], settings: readonly SettingName[]): Flags {
  const options = Object.fromEntries(
    settings.flatMap((s) =>
      typeof s === 'object' && s.flag !== undefined
        ? [[s.flag, { type: s.boolean ? ('boolean' as const) : ('string' as const) }]]
        : [],
    ),
  );
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError(`parse flags: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Reads typed settings from flags and environment, failing with one line that names the setting. */
export class Settings {
  constructor(
    private readonly env: Env,
    private readonly flags: Flags = {},
  ) {}

  /**
   * The value as given and where (`--port` or `MODELSHIP_PORT`): the flag when given, else the
   * variable; undefined when neither is set or the one set is empty.
   */
  raw(name: SettingName): { source: string; text: string } | undefined {
    const { flag, env } = typeof name === 'string' ? { env: name } : name;
    const given = flag === undefined ? undefined : this.flags[flag];
    if (given !== undefined && given !== '') return { source: `--${flag}`, text: String(given) };
    const value = env === undefined ? undefined : this.env[env];
    if (value !== undefined && value !== '') return { source: env!, text: value };
    return undefined;
  }

  /**
   * The setting converted by `parse` (trimmed text in; undefined out means invalid, and fails
   * saying it `expected` …), or `fallback` when unset.
   */
  parsed<T>(name: SettingName, fallback: T, expected: string, parse: (text: string) => T | undefined): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = parse(raw.text.trim());
    if (value === undefined) throw new ConfigError(`invalid ${raw.source}=${JSON.stringify(raw.text)}: ${expected}`);
    return value;
  }

  /** A non-blank string, or `fallback` when unset. */
  string<T extends string | undefined>(name: SettingName, fallback: T): string | T {
    return this.parsed<string | T>(name, fallback, 'must not be empty', (text) => (text === '' ? undefined : text));
  }

  /** An integer in [min, max] written in decimal digits, or `fallback` when unset. */
  integer(name: SettingName, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const expected =
      max === Number.MAX_SAFE_INTEGER
        ? `expected an integer >= ${min}`
        : `expected an integer between ${min} and ${max}`;
    return this.parsed(name, fallback, expected, (text) => {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
    });
  }

  /** A TCP port (0 picks a free one), or `fallback` when unset. */
  port(name: SettingName, fallback: number): number {
    return this.parsed(name, fallback, 'expected a port number 0-65535', (text) => {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      return n <= 65535 ? n : undefined;
    });
  }

  /** A number >= 0 (decimals allowed), or `fallback` when unset. */
  nonNegative(name: SettingName, fallback: number): number {
    return this.parsed(name, fallback, 'expected a number >= 0', (text) => {
      const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      return Number.isFinite(n) ? n : undefined;
    });
  }

  /** `true` or `false` (a boolean flag given alone is true), or `fallback` when unset. */
  boolean(name: SettingName, fallback: boolean): boolean {
    return this.parsed(name, fallback, 'expected true or false', (text) => {
      const lower = text.toLowerCase();
      return lower === 'true' ? true : lower === 'false' ? false : undefined;
    });
  }

  /** One of `choices` (in any case), or `fallback` when unset. */
  choice<T extends string>(name: SettingName, fallback: T, choices: readonly T[]): T {
    return this.parsed(name, fallback, `expected one of ${choices.join(', ')}`, (text) =>
      choices.find((c) => c === text.toLowerCase()),
    );
  }
}
