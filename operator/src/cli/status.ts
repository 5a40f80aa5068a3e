/**
 * `modelship status <md> [--watch]`: prints the ModelDeployment as renderStatus lays it out. With
 * --watch it follows the object: on a terminal it redraws in place on each change and every second
 * (the pause counts down); elsewhere (a pipe, a log) it prints the view again only when it changed.
 */
import type { ModelDeployment } from '../api/types.js';
import { followModelDeployment, readModelDeployment, type CliApi } from '../kube/cli-api.js';
import { parseStatusArgs, type Io } from './args.js';
import { renderStatus } from './render.js';
import { againstCluster } from './session.js';

/** What the status command needs of its terminal; injectable for tests. */
export interface Screen {
  /** True on a terminal: colours, and redraws in place. */
  tty: boolean;
  /** Erases the screen before a redraw. */
  clear(): void;
}

/** Clears the whole terminal and homes the cursor. */
const CLEAR = '\x1b[H\x1b[2J';

/** The process's standard output as a Screen. */
export function stdoutScreen(): Screen {
  return { tty: process.stdout.isTTY === true, clear: () => void process.stdout.write(CLEAR) };
}

/** Runs `modelship status`; resolves to the exit code (a watch runs until interrupted). */
export async function statusCommand(args: string[], io: Io, screen: Screen): Promise<number> {
  const request = parseStatusArgs(args);
  if ('error' in request) {
    io.err(request.error);
    return 2;
  }
  return againstCluster('status', request, io, async (cli, where) => {
    if (request.watch) {
      await watch(cli, request.name, where, io, screen);
      return 0;
    }
    const md = await readModelDeployment(cli, request.name);
    for (const line of renderStatus(md, new Date(), { colour: screen.tty })) io.out(line);
    return 0;
  });
}

/** Follows the object until SIGINT or SIGTERM, drawing it as described above. */
async function watch(cli: CliApi, name: string, where: string, io: Io, screen: Screen): Promise<void> {
  const stop = new AbortController();
  const quit = (): void => stop.abort();
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  let current: ModelDeployment | undefined;
  let seen = false;
  let printed = '';
  const draw = (): void => {
    const lines = current
      ? renderStatus(current, new Date(), { colour: screen.tty })
      : [`${where}: not found (waiting for it)`];
    const text = lines.join('\n');
    if (screen.tty) {
      screen.clear();
    } else {
      // Unchanged output is not printed again; a blank line separates the views.
      if (text === printed) return;
      if (printed !== '') io.out('');
    }
    printed = text;
    for (const line of lines) io.out(line);
  };
  const tick = screen.tty ? setInterval(() => seen && draw(), 1000) : undefined;
  try {
    await followModelDeployment(
      cli,
      name,
      (md) => {
        seen = true;
        current = md;
        draw();
      },
      (err, retryInMs) => io.err(`watch ${where}: ${(err as Error).message}; again in ${retryInMs} ms`),
      stop.signal,
    );
  } finally {
    clearInterval(tick);
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
}
