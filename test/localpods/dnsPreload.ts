/**
 * Cluster DNS for a local pod process, loaded with `NODE_OPTIONS=--import=<this file>`: wraps
 * dns.lookup so `<svc>.<ns>.svc[.cluster.local]`, `<svc>.<ns>` and a bare `<svc>` resolve to the
 * loopback address where the runner serves that Service on its real port. node:http's Agent and
 * undici (fetch) both connect through net, which calls dns.lookup, so the product code runs
 * unchanged. Any other name resolves as before.
 *
 * The address file is read on each lookup of a name that could be a Service: lookups happen only
 * when a connection is opened (pools keep them), and a Service created after the process started
 * must resolve too.
 */
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { ADDRESSES_ENV, POD_NAMESPACE_ENV, clusterAddressOf } from './podspec.js';

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

const addressesFile = process.env[ADDRESSES_ENV];
const podNamespace = process.env[POD_NAMESPACE_ENV] ?? 'default';

/** The Service address for hostname, or undefined when it is not a known Service. */
function serviceAddress(hostname: string): string | undefined {
  if (addressesFile === undefined || isIP(hostname) !== 0) return undefined;
  let addresses: Record<string, string>;
  try {
    addresses = JSON.parse(readFileSync(addressesFile, 'utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
  return clusterAddressOf(hostname, podNamespace, addresses);
}

const systemLookup = dns.lookup;
const systemPromisesLookup = dns.promises.lookup;

function lookup(this: unknown, hostname: string, options: unknown, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  const opts = (
    typeof options === 'function' ? {} : typeof options === 'number' ? { family: options } : (options ?? {})
  ) as dns.LookupOptions;
  const address = serviceAddress(hostname);
  if (address === undefined || opts.family === 6) {
    (systemLookup as (...args: unknown[]) => void).call(this, hostname, options, callback);
    return;
  }
  if (opts.all) process.nextTick(cb, null, [{ address, family: 4 }]);
  else process.nextTick(cb, null, address, 4);
}

(dns as { lookup: unknown }).lookup = lookup;
(dns.promises as { lookup: unknown }).lookup = async (hostname: string, options?: dns.LookupOptions) => {
  const address = serviceAddress(hostname);
  if (address === undefined || options?.family === 6) return systemPromisesLookup(hostname, options ?? {});
  return options?.all ? [{ address, family: 4 }] : { address, family: 4 };
};
