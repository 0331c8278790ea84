/**
 * `trackstack secret create <name>` with no value and a terminal: the value is asked for with a
 * masked prompt. A real pseudo-terminal comes from util-linux's `script`, the built CLI runs
 * in it, and the keystrokes go through the terminal as a user types them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliPath = resolve(import.meta.dirname, '../../dist/cli.js');
const VALUE = 'sk-PLANTED-typed-at-a-prompt-91c2';
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
let home: string;

beforeAll(async () => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: build first (pnpm build)`);
  home = await mkdtemp(join(tmpdir(), 'trackstack-prompt-'));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Runs the CLI in a pseudo-terminal; `keys` are typed once the prompt shows. */
function inTerminal(
  args: string[],
  keys: string,
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, cliPath, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
      env: { ...process.env, TRACKSTACK_HOME: home, TRACKSTACK_LOG: 'warn', TERM: 'xterm' },
    });
    let screen = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
      if (!typed && screen.includes('Value of secret')) {
        typed = true;
        child.stdin.write(keys);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolvePromise({ code, screen });
    });
  });
}

describe.skipIf(!hasScript)('secret create at a terminal', () => {
  it('asks for the value with a masked prompt, stores it 0600 and never echoes it', async () => {
    const { code, screen } = await inTerminal(['secret', 'create', 'typed'], `${VALUE}\r`);
    expect(code, screen).toBe(0);
    expect(screen).toContain("Value of secret 'typed'");
    expect(screen).toContain("Saved secret 'typed' (keys: value)");
    expect(screen).not.toContain(VALUE);
    const file = join(home, 'secrets.json');
    const secrets = JSON.parse(await readFile(file, 'utf8'));
    expect(secrets.secrets.typed).toEqual({ value: VALUE });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('stores nothing when the prompt is interrupted', async () => {
    const { code, screen } = await inTerminal(['secret', 'create', 'abandoned'], 'half\u0003');
    expect(code, screen).not.toBe(0);
    const file = join(home, 'secrets.json');
    const secrets = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : { secrets: {} };
    expect(secrets.secrets.abandoned).toBeUndefined();
    expect(screen).not.toContain('Saved secret');
    expect(screen).toMatch(/error:.*prompt/);
    expect(screen, 'no stack trace').not.toMatch(/\n\s+at /);
  });
});
