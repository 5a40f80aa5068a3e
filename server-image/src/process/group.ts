/**
 * The messages between a group's primary and its serving processes (node:cluster's IPC channel),
 * and the serving process's side of them. The primary holds the port and hands each connection to
 * a process that takes connections (process/dispatch.ts); it fetches and verifies the model once
 * and says where the verified file is; each serving process says when it takes connections and when
 * its model is ready; the primary says when the whole group is ready, so no process reports ready
 * while another would still answer 503. A process that cannot start says why before it exits, so
 * the primary's last word is the cause.
 *
 * Stopping is the primary's to lead: every process goes not ready at once; after the configured
 * delay the primary closes the port, and only then does each process ask its clients to reconnect
 * (`Connection: close`), so none reconnects to a port about to close.
 */
import type { Socket } from 'node:net';
import type { FetchedModel } from '../dataplane/types.js';

/** From a serving process to the primary. */
export type ToPrimary =
  | { type: 'modelship:hello' }
  | { type: 'modelship:accepting' }
  | { type: 'modelship:ready' }
  | { type: 'modelship:failed'; msg: string; error: string };

/** From the primary to a serving process; a connection comes with its socket as the handle. */
export type ToMember =
  | { type: 'modelship:model'; path: string; sha256: string }
  | { type: 'modelship:group-ready' }
  | { type: 'modelship:connection' }
  | { type: 'modelship:stop' }
  | { type: 'modelship:drain' };

/** The steps of a group's shutdown, in order: not ready (the port still open), then drain (it is closed). */
export type StopStep = 'stop' | 'drain';

/** Set in the environment of a process forked to replace one that exited. */
export const REPLACEMENT_ENV = 'MODELSHIP_GROUP_REPLACEMENT';

const PRIMARY_TYPES = new Set(['modelship:hello', 'modelship:accepting', 'modelship:ready', 'modelship:failed']);
const MEMBER_TYPES = new Set([
  'modelship:model',
  'modelship:group-ready',
  'modelship:connection',
  'modelship:stop',
  'modelship:drain',
]);

const typeOf = (message: unknown): unknown =>
  typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;

/** Whether an IPC message is one of ours for the primary (prom-client shares the channel). */
export function isToPrimary(message: unknown): message is ToPrimary {
  return PRIMARY_TYPES.has(typeOf(message) as string);
}

/** Whether an IPC message is one of ours for a serving process. */
export function isToMember(message: unknown): message is ToMember {
  return MEMBER_TYPES.has(typeOf(message) as string);
}

/** A serving process's link to its primary. */
export interface GroupMember {
  /** True when this process replaces one that exited: it takes connections only once its model is ready. */
  readonly replacement: boolean;
  /** The model file the primary verified. */
  readonly model: Promise<FetchedModel>;
  /** Whether every process of the group has loaded its model. */
  groupReady(): boolean;
  /** Tell the primary to hand this process connections from now on. */
  accepting(): void;
  ready(): void;
  /** Run `handler` with each connection the primary hands over. */
  onConnection(handler: (socket: Socket) => void): void;
  /** Run `handler` for each step of the group's shutdown the primary calls. */
  onStop(handler: (step: StopStep) => void): void;
  /** Tell the primary why this process cannot go on; resolves once the message is out. */
  failed(msg: string, error: string): Promise<void>;
  /** Run `handler` once if the primary goes away (its IPC channel closes). */
  onPrimaryGone(handler: () => void): void;
}

/** How long a process about to exit waits for its last message to reach the primary. */
const LAST_MESSAGE_MS = 1000;

function send(message: ToPrimary, sent?: () => void): void {
  if (process.connected && process.send) process.send(message, undefined, {}, () => sent?.());
  else sent?.();
}

/** Join the group this process was forked into; call once, before listening. */
export function joinGroup(env: NodeJS.ProcessEnv = process.env): GroupMember {
  let groupReady = false;
  let resolveModel: (model: FetchedModel) => void = () => undefined;
  const model = new Promise<FetchedModel>((resolve) => (resolveModel = resolve));
  let onStop: (step: StopStep) => void = () => undefined;
  let onConnection: (socket: Socket) => void = (socket) => socket.destroy();
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isToMember(message)) return;
    switch (message.type) {
      case 'modelship:model':
        resolveModel({ path: message.path, sha256: message.sha256 });
        break;
      case 'modelship:group-ready':
        groupReady = true;
        break;
      case 'modelship:connection':
        if (handle) onConnection(handle as Socket);
        break;
      case 'modelship:stop':
      case 'modelship:drain':
        onStop(message.type === 'modelship:stop' ? 'stop' : 'drain');
        break;
    }
  });
  // Messages sent before this process listens for them would be lost: the primary answers this.
  send({ type: 'modelship:hello' });
  return {
    replacement: env[REPLACEMENT_ENV] === '1',
    model,
    groupReady: () => groupReady,
    accepting: () => send({ type: 'modelship:accepting' }),
    ready: () => send({ type: 'modelship:ready' }),
    onConnection: (handler) => (onConnection = handler),
    onStop: (handler) => (onStop = handler),
    failed: (msg, error) =>
      new Promise((resolve) => {
        setTimeout(resolve, LAST_MESSAGE_MS).unref();
        send({ type: 'modelship:failed', msg, error }, resolve);
      }),
    onPrimaryGone: (handler) => process.once('disconnect', handler),
  };
}
