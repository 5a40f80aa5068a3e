/** Tests for cpu.ts: reading CPU time per process group from /proc (node:test). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { groupCpuSeconds, parseProcStat } from './cpu.js';

test('parseProcStat finds the process group and user+system ticks, even with ") " in the name', () => {
  const line = '21509 (we (ird) name) R 21507 4242 4291 0 -1 4194304 101 0 0 0 250 31 0 0 20 0 1 0 79403 3133440 389';
  assert.deepEqual(parseProcStat(line), { pgrp: 4242, ticks: 281 });
});

test('parseProcStat rejects a line that is not a stat line', () => {
  assert.throws(() => parseProcStat('garbage'), /parse \/proc stat line/);
});

test('groupCpuSeconds counts the CPU a busy process group burns', async () => {
  // Busy for up to 20 s; we poll (the machine may be loaded) and stop it as soon as CPU shows up.
  const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 20000; while (Date.now() < end);'], {
    detached: true,
  });
  const exited = new Promise((resolve) => busy.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  let seconds = 0;
  while (seconds === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    seconds = groupCpuSeconds(busy.pid as number);
  }
  busy.kill('SIGKILL');
  await exited;
  assert.ok(seconds > 0, `expected CPU time for the busy group, got ${seconds}`);
  assert.equal(groupCpuSeconds(2 ** 30), 0);
});
