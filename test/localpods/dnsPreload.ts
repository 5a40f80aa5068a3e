/**
 * Cluster networking for a local pod process, loaded with `NODE_OPTIONS=--import=<this file>`:
 * - wraps dns.lookup so `<svc>.<ns>.svc[.cluster.local]`, `<svc>.<ns>` and a bare `<svc>` resolve
 *   to the loopback address where the runner serves that Service on its real port. node:http's
 *   Agent and undici (fetch) both connect through net, which calls dns.lookup, so the product code
 *   runs unchanged. Any other name resolves as before;
 * - wraps net.Socket's connect so a connection to a local pod's IP and container port (kwok's pod
 *   IPs are routed nowhere on this machine) goes to that pod's process on loopback: the router's
 *   probes of starting pods and its labels forwarded to peer routers reach them as in a cluster.
 *
 * The address files are read on each lookup of a name that could be a Service and on each connect
 * to an IP: both happen only when a connection is opened (pools keep them), and a Service or pod
 * created after the process started must be reachable too.
 */
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import net, { isIP } from 'node:net';

import { ADDRESSES_ENV, POD_ADDRESSES_ENV, POD_NAMESPACE_ENV, clusterAddressOf, podEndpointOf } from './podspec.js';

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

const addressesFile = process.env[ADDRESSES_ENV];
const podAddressesFile = process.env[POD_ADDRESSES_ENV];
const podNamespace = process.env[POD_NAMESPACE_ENV] ?? 'default';

/** The JSON object in `file`, or {} when there is none (yet). */
function readMap(file: string | undefined): Record<string, string> {
  if (file === undefined) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/** The Service address for hostname, or undefined when it is not a known Service. */
function serviceAddress(hostname: string): string | undefined {
  if (addressesFile === undefined || isIP(hostname) !== 0) return undefined;
  return clusterAddressOf(hostname, podNamespace, readMap(addressesFile));
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

type ConnectOptions = { host?: unknown; port?: unknown };
/** An IPv4 address off loopback: a pod IP may be mapped; loopback connections are never. */
const isPodIp = (host: string): boolean => isIP(host) === 4 && !host.startsWith('127.');
const systemConnect = net.Socket.prototype.connect;
// net.connect hands Socket#connect its arguments normalised ([options, callback]); a direct call
// passes options, or port and host. Only an options object naming an IP and port is redirected.
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
  const first = args[0];
  const options = (Array.isArray(first) ? first[0] : first) as ConnectOptions | undefined;
  if (options !== null && typeof options === 'object' && typeof options.host === 'string' && isPodIp(options.host)) {
    const to = podEndpointOf(options.host, Number(options.port), readMap(podAddressesFile));
    if (to !== undefined) Object.assign(options, to);
  }
  return (systemConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
