/**
 * Starting the payload sink (sink.ts, compiled) as the router's tests, its bench and the monitoring
 * e2e do: a real process on an ephemeral loopback port, its recorded events, its count.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The compiled sink (tests and benches run from the repository root). */
const SINK_ENTRY = path.resolve('dist/test/sink/sink.js');

/** An event as the sink recorded it. */
export interface RecordedEvent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A running sink process. */
export interface Sink {
  url: string;
  /** Events received so far, from its JSONL file (empty unless started with `record`). */
  events(): RecordedEvent[];
  /** Events received so far, by its own count. */
  count(): Promise<number>;
  /** SIGTERM; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a sink answering as `mode` says (sink.ts SINK_MODE), on `host` (default 127.0.0.1; a real
 * node's address for pods to reach it); with `record`, it keeps every event in a JSONL file of a
 * fresh temp directory. Rejects, with what it printed, if it exits before it listens or does not
 * listen within 30 s.
 */
export async function startSink(
  opts: { mode?: 'ok' | 'error' | 'stall'; record?: boolean; host?: string } = {},
): Promise<Sink> {
  if (!fs.existsSync(SINK_ENTRY))
    throw new Error(`start the payload sink: ${SINK_ENTRY} missing: run make build first`);
  const out = opts.record ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-sink-')), 'events.jsonl') : '';
  const child = spawn(process.execPath, [SINK_ENTRY], {
    env: {
      PATH: process.env.PATH,
      SINK_HOST: opts.host ?? '127.0.0.1',
      SINK_PORT: '0',
      SINK_MODE: opts.mode ?? 'ok',
      ...(out ? { SINK_OUT: out } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr.on('data', (c: Buffer) => (text += c.toString()));
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`start the payload sink: not listening after 30 s: ${text}`));
    }, 30_000);
    const look = () => {
      const line = text.split('\n').find((l) => l.includes('"sink listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    };
    child.stdout.on('data', look);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`start the payload sink: it exited with ${code}: ${text}`));
    });
  });
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    events: () =>
      out && fs.existsSync(out)
        ? fs
            .readFileSync(out, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => {
              const e = JSON.parse(l) as Omit<RecordedEvent, 'body'> & { body: string };
              return { ...e, body: Buffer.from(e.body, 'base64') };
            })
        : [],
    count: async () => ((await (await fetch(`${url}/count`)).json()) as { count: number }).count,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (out) fs.rmSync(path.dirname(out), { recursive: true, force: true });
    },
  };
}
