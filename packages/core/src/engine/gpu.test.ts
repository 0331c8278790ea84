import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  GPU_TOOL_TIMEOUT_MS,
  parseNvidiaSmiCsv,
  parseRocmSmiJson,
  readGpus,
  resetGpuTools,
} from './gpu.js';

const fixtures = join(import.meta.dirname, '__fixtures__');
const nvidia = (name: string) => readFileSync(join(fixtures, 'nvidia-smi', `${name}.csv`), 'utf8');
const rocm = (name: string) => readFileSync(join(fixtures, 'rocm-smi', `${name}.json`), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'trackstack-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => resetGpuTools());

describe('nvidia-smi --query-gpu … --format=csv', () => {
  it('reads real captures of several drivers (columns found by name, units stripped)', () => {
    expect(
      parseNvidiaSmiCsv(nvidia('linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.load')),
    ).toEqual([
      {
        index: 0,
        utilization: 100,
        memoryUsedMiB: 19818,
        memoryTotalMiB: 81559,
        memoryPercent: (19818 / 81559) * 100,
        powerW: 631.95,
        powerLimitW: 700,
        temperatureC: 59,
      },
    ]);
    expect(
      parseNvidiaSmiCsv(nvidia('linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.idle')),
    ).toMatchObject([
      { index: 0, utilization: 0, memoryUsedMiB: 211, powerW: 39.17, temperatureC: 33 },
    ]);
    expect(
      parseNvidiaSmiCsv(nvidia('windows-x86_64__nvidia-geforce-rtx-2080-super__610.62.load')),
    ).toMatchObject([{ index: 0, utilization: 7, memoryUsedMiB: 1366, powerLimitW: 250 }]);
  });

  it('leaves out what MIG mode reports as [N/A], and keeps the rest', () => {
    const [gpu] = parseNvidiaSmiCsv(nvidia('linux-x86_64__nvidia-h100-mig__590.48.01.load'));
    expect(gpu).not.toHaveProperty('utilization');
    expect(gpu).toMatchObject({ index: 0, memoryUsedMiB: 11125, powerW: 433.78, temperatureC: 53 });
  });

  it('gives every capture one GPU with its memory and power', () => {
    const files = readdirSync(join(fixtures, 'nvidia-smi')).filter((f) => f.endsWith('.csv'));
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const file of files) {
      const gpus = parseNvidiaSmiCsv(nvidia(file.slice(0, -4)));
      expect(gpus, file).toHaveLength(1);
      expect(gpus[0]!.memoryTotalMiB, file).toBeGreaterThan(0);
      expect(gpus[0]!.powerLimitW, file).toBeGreaterThan(0);
    }
  });

  it('reads a machine with two GPUs, one line each', () => {
    const [header, h100] = nvidia('linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.idle').split(
      '\n',
    );
    const [, h200] = nvidia('linux-x86_64__nvidia-h200__590.48.01.load').split('\n');
    // The second GPU's `index` cell says 1, as nvidia-smi numbers a second GPU.
    const at = header!.split(',').findIndex((cell) => cell.trim() === 'index');
    const second = h200!.split(',');
    second[at] = ' 1';
    const gpus = parseNvidiaSmiCsv([header, h100, second.join(',')].join('\n'));
    expect(gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(gpus.map((g) => g.memoryTotalMiB)).toEqual([81559, 143771]);
    expect(gpus.map((g) => g.utilization)).toEqual([0, 100]);
  });

  it('parses what our own query asks for (the short header)', () => {
    const text = [
      'index, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W], enforced.power.limit [W], temperature.gpu',
      '0, 35 %, 1024 MiB, 8192 MiB, 120.50 W, 250.00 W, 61',
      '1, [Not Supported], 0 MiB, 8192 MiB, [N/A], [N/A], 40',
    ].join('\n');
    expect(parseNvidiaSmiCsv(text)).toEqual([
      {
        index: 0,
        utilization: 35,
        memoryUsedMiB: 1024,
        memoryTotalMiB: 8192,
        memoryPercent: 12.5,
        powerW: 120.5,
        powerLimitW: 250,
        temperatureC: 61,
      },
      { index: 1, memoryUsedMiB: 0, memoryTotalMiB: 8192, memoryPercent: 0, temperatureC: 40 },
    ]);
    expect(parseNvidiaSmiCsv('')).toEqual([]);
  });
});

describe('rocm-smi -a --json', () => {
  it("reads ROCm 5 and ROCm 6 field names, as W&B's tests give them", () => {
    expect(parseRocmSmiJson(rocm('xpu_gpu_amd_rs_rocm5_two_cards_trimmed'))).toEqual([
      {
        index: 0,
        utilization: 10,
        memoryPercent: 20,
        powerW: 89,
        powerLimitW: 560,
        temperatureC: 43,
      },
      {
        index: 1,
        utilization: 20,
        memoryPercent: 0,
        powerW: 89,
        powerLimitW: 560,
        temperatureC: 43,
      },
    ]);
    expect(parseRocmSmiJson(rocm('xpu_gpu_amd_rs_rocm6_one_card_trimmed'))).toEqual([
      {
        index: 0,
        utilization: 0,
        memoryPercent: 0,
        powerW: 91,
        powerLimitW: 560,
        temperatureC: 53,
      },
    ]);
    expect(parseRocmSmiJson(rocm('rocm-smi-a-json_MI250_rocm5'))).toHaveLength(2);
    expect(parseRocmSmiJson('not json')).toEqual([]);
  });
});

describe('readGpus', () => {
  it('is empty without nvidia-smi or rocm-smi, and asks only once', async () => {
    const path = process.env.PATH;
    try {
      process.env.PATH = join(work, 'nowhere');
      expect(await readGpus()).toEqual([]);
      expect(await readGpus()).toEqual([]);
    } finally {
      process.env.PATH = path;
    }
  });

  it('reads a tool on the PATH, and gives up on a hung one at the timeout', async () => {
    const bin = join(work, 'bin');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin, { recursive: true });
    const tool = join(bin, 'nvidia-smi');
    const capture = join(fixtures, 'nvidia-smi', 'linux-x86_64__nvidia-l40s__595.80.load.csv');
    writeFileSync(tool, `#!/bin/sh\ncat '${capture}'\n`);
    chmodSync(tool, 0o755);
    const path = process.env.PATH;
    try {
      process.env.PATH = `${bin}:${path}`;
      expect(await readGpus()).toMatchObject([{ index: 0, utilization: 9, memoryUsedMiB: 1235 }]);
      writeFileSync(tool, '#!/bin/sh\nsleep 60\n');
      const started = Date.now();
      expect(await readGpus()).toEqual([]);
      expect(Date.now() - started).toBeLessThan(GPU_TOOL_TIMEOUT_MS * 2);
    } finally {
      process.env.PATH = path;
    }
  }, 20_000);
});
