/**
 * `trackstack ui`, the built CLI run as a user runs it: the URL (with its token) as the last
 * line, the pages and the API served at it, Ctrl+C stopping it; the default port taken by
 * another falls back to a free one, a named port in use is a usage error, and a non-loopback
 * host warns.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTracker, LocalExperimentTracker, silentLogger } from '@trackstack/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UI_PORT } from './ui.js';

const cliPath = resolve(import.meta.dirname, '../../dist/cli.js');
let home: string;
let runUid: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'trackstack-ui-cli-'));
  const tracker = createTracker(new LocalExperimentTracker({}, { storeDir: home }), {
    logger: silentLogger,
  });
  const run = await tracker.startRun({ experiment: 'demo', name: 'one', systemMetrics: false });
  run.logMetric('loss', 0.5);
  await run.end();
  runUid = run.uid;
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await rm(home, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `trackstack ui …`; resolves with the URL once a line of stdout is one, rejects on exit. */
function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [cliPath, 'ui', ...args], {
    env: { ...process.env, TRACKSTACK_HOME: home, TRACKSTACK_LOG: 'warn' },
  });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const last = out.trimEnd().split('\n').at(-1) ?? '';
      if (out.endsWith('\n') && /^http:\/\//.test(last)) {
        resolve({ child, url: last, stdout: () => out, stderr: () => err });
      }
    });
    child.once('exit', (code) =>
      reject(Object.assign(new Error(`exited ${code}: ${err}`), { code, stderr: err })),
    );
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('trackstack ui', () => {
  it("prints its URL last, serves the pages and the store's runs there, and stops on Ctrl+C", async () => {
    const ui = await startCli(['--port', '0']);
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    expect(ui.stdout()).toContain(home);
    const page = await fetch(ui.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<main id="app">');
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const runs = (await (
      await fetch(new URL('/api/runs', ui.url), { headers: { cookie } })
    ).json()) as {
      runs: { uid: string }[];
    };
    expect(runs.runs.map((r) => r.uid)).toEqual([runUid]);
    expect((await fetch(new URL('/api/runs', ui.url))).status).toBe(401);
    ui.child.kill('SIGINT');
    expect(await exited(ui.child)).toBe(0);
  });

  it('takes a free port when the default one is taken, and refuses a named port in use', async () => {
    const blocker: Server = createServer();
    const blocked = await new Promise<boolean>((resolve) => {
      blocker.once('error', () => resolve(false));
      blocker.listen(DEFAULT_UI_PORT, '127.0.0.1', () => resolve(true));
    });
    try {
      // (When another process of this machine holds the port already, the fallback is tested too.)
      const ui = await startCli([]);
      expect(new URL(ui.url).port).not.toBe(String(DEFAULT_UI_PORT));
      expect((await fetch(ui.url)).status).toBe(200);
      ui.child.kill('SIGINT');
      await exited(ui.child);
      const named = await startCli(['--port', String(DEFAULT_UI_PORT)]).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(named).toMatchObject({ code: 2 });
      expect((named as { stderr: string }).stderr).toMatch(
        new RegExp(`port ${DEFAULT_UI_PORT} is in use`),
      );
    } finally {
      if (blocked) await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('warns before listening anywhere but loopback, and says why it cannot', async () => {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning, then a clear error.
    const failed = (await startCli(['--host', '192.0.2.1', '--port', '0']).catch((e) => e)) as {
      code: number;
      stderr: string;
    };
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/warning.*192\.0\.2\.1, not loopback/);
    expect(failed.stderr).toMatch(/cannot listen on 192\.0\.2\.1/);
    const bad = (await startCli(['--port', 'eighty']).catch((e) => e)) as {
      code: number;
      stderr: string;
    };
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port must be a port number/);
  });
});
