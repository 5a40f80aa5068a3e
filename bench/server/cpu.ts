/**
 * CPU time used by a server's whole process group (gunicorn's master and workers, node's worker
 * threads), read from /proc. On a shared machine req/s depends on what else runs; CPU time per
 * request much less so, so the report shows both.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The process group and the user+system clock ticks of one /proc/<pid>/stat line. */
export function parseProcStat(line: string): { pgrp: number; ticks: number } {
  // The command name (field 2) may hold spaces and parentheses; fields are counted after the last ')'.
  const rest = line.slice(line.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): pgrp is field 5, utime field 14, stime field 15.
  const pgrp = Number(rest[2]);
  const ticks = Number(rest[11]) + Number(rest[12]);
  if (!Number.isFinite(pgrp) || !Number.isFinite(ticks))
    throw new Error(`parse /proc stat line: ${JSON.stringify(line.slice(0, 120))}`);
  return { pgrp, ticks };
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks. It is 100 on every mainstream build. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) used so far by every live process in process group `pgrp`. */
export function groupCpuSeconds(pgrp: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let line: string;
    try {
      line = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // The process exited while we looked.
    }
    const stat = parseProcStat(line);
    if (stat.pgrp === pgrp) ticks += stat.ticks;
  }
  return ticks / TICKS_PER_SECOND;
}
