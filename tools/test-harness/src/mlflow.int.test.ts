import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { basicAuthHeader, MLFLOW_ADMIN_USERNAME, startMlflowServer } from './mlflow.js';

const API = '/api/2.0/mlflow';

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
}

describe('startMlflowServer', () => {
  it('starts a real server, survives a restart on the same port, and stops cleanly', async () => {
    const server = await startMlflowServer();
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      expect(server.auth).toBeUndefined();
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      const def = await getJson(
        `${server.url}${API}/experiments/get-by-name?experiment_name=Default`,
      );
      expect(def.status).toBe(200);
      expect(def.body.experiment.name).toBe('Default');

      // Data written before a restart is there after it (same directory and database).
      const created = await fetch(`${server.url}${API}/experiments/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'harness-restart' }),
      });
      expect(created.status).toBe(200);
      const { experiment_id } = (await created.json()) as { experiment_id: string };

      const port = server.port;
      await server.restart();
      expect(server.port).toBe(port);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      const after = await getJson(
        `${server.url}${API}/experiments/get-by-name?experiment_name=harness-restart`,
      );
      expect(after.status).toBe(200);
      expect(after.body.experiment.experiment_id).toBe(experiment_id);
      expect(server.logs()).toContain('restart');
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
    expect(await refused(`${server.url}/health`)).toBe(true);
    await server.stop(); // idempotent
    await expect(server.restart()).rejects.toThrow(/stopped/);
  }, 240_000);

  it('with basic auth: 401 without or with wrong credentials, 200 for the admin', async () => {
    const password = 'harness-admin-password-1';
    const server = await startMlflowServer({ auth: { adminPassword: password } });
    try {
      expect(server.auth).toEqual({ username: MLFLOW_ADMIN_USERNAME, password });
      const path = `${server.url}${API}/experiments/get-by-name?experiment_name=Default`;
      expect((await getJson(path)).status).toBe(401);
      expect(
        (
          await getJson(path, {
            authorization: basicAuthHeader(MLFLOW_ADMIN_USERNAME, 'wrong-password-123'),
          })
        ).status,
      ).toBe(401);
      const ok = await getJson(path, {
        authorization: basicAuthHeader(MLFLOW_ADMIN_USERNAME, password),
      });
      expect(ok.status).toBe(200);
      expect(ok.body.experiment.name).toBe('Default');
      // The user database lives in the server's own directory, not the working directory.
      expect(existsSync(`${server.dir}/basic_auth.db`)).toBe(true);
    } finally {
      await server.stop();
    }
  }, 240_000);

  it('refuses an admin password MLflow would reject, before starting anything', async () => {
    await expect(startMlflowServer({ auth: { adminPassword: 'short' } })).rejects.toThrow(
      /12 characters/,
    );
  });

  it('fails with the log tail when the server exits during start-up', async () => {
    await expect(
      startMlflowServer({ extraArgs: ['--backend-store-uri', 'bogus://nowhere'] }),
    ).rejects.toThrow(/MLflow server exited[\s\S]*bogus/);
  }, 240_000);
});
