/**
 * The messages between a group's primary and its serving processes (node:cluster's IPC channel),
 * and the serving process's side of them. The primary fetches and verifies the model once and says
 * where the verified file is; each serving process says when it listens and when its model is
 * ready; the primary says when the whole group is ready, so no process reports ready while another
 * would still answer 503.
 */
import type { FetchedModel } from '../dataplane/types.js';

/** From a serving process to the primary. */
export type ToPrimary =
  | { type: 'modelship:hello' }
  | { type: 'modelship:listening'; port: number }
  | { type: 'modelship:ready' };

/** From the primary to a serving process. */
export type ToMember = { type: 'modelship:model'; path: string; sha256: string } | { type: 'modelship:group-ready' };

/** Set in the environment of a process forked to replace one that exited. */
export const REPLACEMENT_ENV = 'MODELSHIP_GROUP_REPLACEMENT';

const PRIMARY_TYPES = new Set(['modelship:hello', 'modelship:listening', 'modelship:ready']);
const MEMBER_TYPES = new Set(['modelship:model', 'modelship:group-ready']);

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
  /** True when this process replaces one that exited: it listens only once its model is ready. */
  readonly replacement: boolean;
  /** The model file the primary verified. */
  readonly model: Promise<FetchedModel>;
  /** Whether every process of the group has loaded its model. */
  groupReady(): boolean;
  listening(port: number): void;
  ready(): void;
  /** Run `handler` once if the primary goes away (its IPC channel closes). */
  onPrimaryGone(handler: () => void): void;
}

function send(message: ToPrimary): void {
  if (process.connected) process.send?.(message);
}

/** Join the group this process was forked into; call once, before listening. */
export function joinGroup(env: NodeJS.ProcessEnv = process.env): GroupMember {
  let groupReady = false;
  let resolveModel: (model: FetchedModel) => void = () => undefined;
  const model = new Promise<FetchedModel>((resolve) => (resolveModel = resolve));
  process.on('message', (message: unknown) => {
    if (!isToMember(message)) return;
    if (message.type === 'modelship:model') resolveModel({ path: message.path, sha256: message.sha256 });
    else groupReady = true;
  });
  // Messages sent before this process listens for them would be lost: the primary answers this.
  send({ type: 'modelship:hello' });
  return {
    replacement: env[REPLACEMENT_ENV] === '1',
    model,
    groupReady: () => groupReady,
    listening: (port) => send({ type: 'modelship:listening', port }),
    ready: () => send({ type: 'modelship:ready' }),
    onPrimaryGone: (handler) => process.once('disconnect', handler),
  };
}
