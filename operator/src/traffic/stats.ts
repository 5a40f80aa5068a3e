/**
 * Housekeeping of the router's stats ConfigMap: every router pod that ever ran left its
 * `<pod>.json` key behind, and a ConfigMap holds at most 1 MiB. Keys whose document was not
 * rewritten for a while belong to pods that are gone; the operator removes them with a JSON merge
 * patch (a null value deletes a key), which never touches the keys live pods are writing.
 */
import { isStatsKey } from '../../../contract/keys.js';

/** How long a stats document may go unwritten before its pod is taken for gone (routers write every 5 s). */
export const STATS_MAX_AGE_SECONDS = 600;

/**
 * The merge patch removing stale or unreadable documents from the stats ConfigMap's data, or
 * undefined when nothing is stale. Pure: `now` is an argument.
 */
export function staleStatsPatch(
  data: Record<string, string> | undefined,
  now: Date,
  maxAgeSeconds = STATS_MAX_AGE_SECONDS,
): { data: Record<string, null> } | undefined {
  const stale: Record<string, null> = {};
  for (const [key, text] of Object.entries(data ?? {})) {
    if (!isStatsKey(key)) continue;
    let time = Number.NaN;
    try {
      time = Date.parse((JSON.parse(text) as { time?: unknown }).time as string);
    } catch {
      // unreadable: removed below like a stale one (a live pod rewrites its key within seconds)
    }
    if (!(now.getTime() - time <= maxAgeSeconds * 1000)) stale[key] = null;
  }
  return Object.keys(stale).length > 0 ? { data: stale } : undefined;
}
