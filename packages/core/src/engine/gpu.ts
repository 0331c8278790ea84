/**
 * GPU readings from the vendors' command-line tools, for the system-metrics
 * sampler: `nvidia-smi --query-gpu=… --format=csv` (NVIDIA) and
 * `rocm-smi -a --json` (AMD, as W&B reads it). Each call is bounded by a
 * timeout; a missing binary is remembered, so it is looked for once.
 */
import { execFile } from 'node:child_process';

/** One GPU at one moment; a field the driver does not report is left out. */
export interface GpuReading {
  index: number;
  /** %. */
  utilization?: number;
  /** MiB. */
  memoryUsedMiB?: number;
  /** MiB. */
  memoryTotalMiB?: number;
  /** % of the GPU's memory in use (used ÷ total, or what rocm-smi reports). */
  memoryPercent?: number;
  /** W. */
  powerW?: number;
  /** W: the enforced limit (what MLflow and W&B compute power % against). */
  powerLimitW?: number;
  /** °C. */
  temperatureC?: number;
}

/** How long one call of a GPU tool may take (ms) before it is killed and the sample goes on without it. */
export const GPU_TOOL_TIMEOUT_MS = 5_000;

const NVIDIA_SMI_FIELDS = [
  'index',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'power.draw',
  'enforced.power.limit',
  'temperature.gpu',
] as const;

/**
 * `nvidia-smi --query-gpu=… --format=csv` output: a header line naming the
 * fields (with units in brackets, `memory.used [MiB]`), then a line per GPU.
 * Cells that start with `[` (`[N/A]`, `[Not Supported]`, `[Requested
 * functionality has been deprecated]`) are missing values. The columns are
 * found by name, so any set and order of fields parses.
 */
export function parseNvidiaSmiCsv(text: string): GpuReading[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const header = lines[0];
  if (header === undefined) return [];
  const names = header.split(',').map((cell) => cell.trim().replace(/\s*\[.*\]$/, ''));
  const column = (name: string) => names.indexOf(name);
  const at = {
    index: column('index'),
    utilization: column('utilization.gpu'),
    memoryUsed: column('memory.used'),
    memoryTotal: column('memory.total'),
    power: column('power.draw'),
    limit: column('enforced.power.limit'),
    requested: column('power.limit'),
    temperature: column('temperature.gpu'),
  };
  const out: GpuReading[] = [];
  for (const [row, line] of lines.slice(1).entries()) {
    const cells = line.split(',').map((cell) => cell.trim());
    const number = (i: number): number | undefined => {
      if (i < 0) return undefined;
      const cell = cells[i];
      if (cell === undefined || cell === '' || cell.startsWith('[')) return undefined;
      const value = Number.parseFloat(cell);
      return Number.isFinite(value) ? value : undefined;
    };
    const reading: GpuReading = { index: number(at.index) ?? row };
    const set = <K extends keyof GpuReading>(key: K, value: number | undefined) => {
      if (value !== undefined) reading[key] = value as GpuReading[K];
    };
    set('utilization', number(at.utilization));
    set('memoryUsedMiB', number(at.memoryUsed));
    set('memoryTotalMiB', number(at.memoryTotal));
    if (reading.memoryUsedMiB !== undefined && reading.memoryTotalMiB)
      reading.memoryPercent = (reading.memoryUsedMiB / reading.memoryTotalMiB) * 100;
    set('powerW', number(at.power));
    set('powerLimitW', number(at.limit) ?? number(at.requested));
    set('temperatureC', number(at.temperature));
    out.push(reading);
  }
  return out;
}

/**
 * `rocm-smi -a --json`: `{ "card0": { "GPU use (%)": "12", … }, "system": … }`,
 * values as strings. The field names are ROCm 5's and ROCm 6's, as W&B reads them.
 */
export function parseRocmSmiJson(text: string): GpuReading[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  if (data === null || typeof data !== 'object') return [];
  const out: GpuReading[] = [];
  for (const [name, card] of Object.entries(data as Record<string, unknown>)) {
    const match = /^card(\d+)$/.exec(name);
    if (match === null || card === null || typeof card !== 'object') continue;
    const fields = card as Record<string, unknown>;
    const number = (...keys: string[]): number | undefined => {
      for (const key of keys) {
        const raw = fields[key];
        if (raw === undefined) continue;
        const value = Number.parseFloat(String(raw).replace(/%$/, ''));
        if (Number.isFinite(value)) return value;
      }
      return undefined;
    };
    const reading: GpuReading = { index: Number(match[1]) };
    const utilization = number('GPU use (%)');
    const memoryPercent = number('GPU memory use (%)', 'GPU Memory Allocated (VRAM%)');
    const power = number(
      'Average Graphics Package Power (W)',
      'Current Socket Graphics Package Power (W)',
    );
    const limit = number('Max Graphics Package Power (W)');
    const temperature = number('Temperature (Sensor memory) (C)');
    if (utilization !== undefined) reading.utilization = utilization;
    if (memoryPercent !== undefined) reading.memoryPercent = memoryPercent;
    if (power !== undefined) reading.powerW = power;
    if (limit !== undefined) reading.powerLimitW = limit;
    if (temperature !== undefined) reading.temperatureC = temperature;
    out.push(reading);
  }
  return out.sort((a, b) => a.index - b.index);
}

type Tool = 'nvidia-smi' | 'rocm-smi';
const missing = new Set<Tool>();

function run(tool: Tool, args: string[]): Promise<string | undefined> {
  if (missing.has(tool)) return Promise.resolve(undefined);
  return new Promise((done) => {
    try {
      execFile(
        tool,
        args,
        { timeout: GPU_TOOL_TIMEOUT_MS, windowsHide: true, maxBuffer: 4 * 1024 * 1024 },
        (error, stdout) => {
          if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') missing.add(tool);
          done(error ? undefined : stdout);
        },
      );
    } catch {
      missing.add(tool);
      done(undefined);
    }
  });
}

/** The GPUs nvidia-smi (else rocm-smi) reports now; none when neither is on the PATH. */
export async function readGpus(): Promise<GpuReading[]> {
  const nvidia = await run('nvidia-smi', [
    `--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`,
    '--format=csv',
  ]);
  if (nvidia !== undefined) return parseNvidiaSmiCsv(nvidia);
  const amd = await run('rocm-smi', ['-a', '--json']);
  return amd === undefined ? [] : parseRocmSmiJson(amd);
}

/** Forgets which tools were missing (tests). */
export function resetGpuTools(): void {
  missing.clear();
}
