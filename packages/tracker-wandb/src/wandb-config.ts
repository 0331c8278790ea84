/**
 * The W&B flavor's config, as ZenML's W&B tracker takes it. Fields the config
 * leaves out fall back to W&B's own environment variables, as the SDK does.
 */
import { secret, TrackstackError } from '@trackstack/core';
import { z } from 'zod';

const WANDB_DEFAULT_BASE_URL = 'https://api.wandb.ai';

export const wandbConfigSchema = z
  .object({
    api_key: secret(z.string()).optional().describe('W&B API key; default WANDB_API_KEY'),
    entity: z
      .string()
      .optional()
      .describe(
        "user or team that owns the runs; default WANDB_ENTITY, else the key's default entity",
      ),
    project_name: z
      .string()
      .optional()
      .describe("project of the runs; default WANDB_PROJECT, else the experiment's name"),
    base_url: z
      .string()
      .optional()
      .describe(`W&B server; default WANDB_BASE_URL, else ${WANDB_DEFAULT_BASE_URL}`),
    mode: z
      .enum(['online', 'offline'])
      .optional()
      .describe(
        "'offline' writes W&B's own offline run directories; default WANDB_MODE, else online",
      ),
    dir: z
      .string()
      .optional()
      .describe(
        'where offline runs go (<dir>/wandb/offline-run-...); default WANDB_DIR, else the working directory',
      ),
    run_name: z.string().optional().describe('display name of the runs (default the run name)'),
    group: z.string().optional().describe('run group'),
    job_type: z.string().optional().describe('job type'),
    tags: z.array(z.string()).default([]).describe('W&B tags added to every run'),
    notes: z.string().optional().describe('run notes'),
    file_stream_interval_s: z
      .number()
      .nonnegative()
      .default(15)
      .describe(
        "at least this long between two history writes of a run, as W&B's own client paces them",
      ),
    request_timeout_s: z.number().positive().default(60).describe('timeout of one HTTP request'),
    heartbeat_interval_s: z
      .number()
      .positive()
      .optional()
      .describe(
        "an idle run says it is alive this often (an empty file_stream request); default 30, as W&B's client",
      ),
    run_id_strategy: z
      .enum(['uid', 'step'])
      .optional()
      .describe(
        "W&B run id: 'uid' (default) the trackstack run id (a ZenML step's is derived from its step run id, so a retried step resumes); 'step' <pipeline run>_<step> for step runs (readable, resumed the same way), the uid otherwise",
      ),
    resume: z
      .enum(['allow', 'must', 'never'])
      .optional()
      .describe(
        "as wandb.init's resume, checked when a run is created: 'allow' continues a W&B run of that id (keeping its config, tags and history), 'must' refuses to create one, 'never' refuses to continue one; unset, the run is upserted without a check",
      ),
  })
  .strict();

export type WandbConfig = z.output<typeof wandbConfigSchema>;

export interface ResolvedWandbConfig extends WandbConfig {
  mode: 'online' | 'offline';
  baseUrl: string;
  dir: string;
}

export function resolveWandbConfig(
  config: WandbConfig,
  env: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
): ResolvedWandbConfig {
  const mode =
    config.mode ??
    (env.WANDB_MODE === 'offline' || env.WANDB_MODE === 'dryrun' ? 'offline' : 'online');
  const baseUrl = (config.base_url ?? env.WANDB_BASE_URL ?? WANDB_DEFAULT_BASE_URL).replace(
    /\/+$/,
    '',
  );
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw invalid('base_url must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('base_url must be an http(s) URL');
  if (url.username !== '' || url.password !== '')
    throw invalid('put the key in api_key, never in the URL');
  const apiKey = config.api_key ?? env.WANDB_API_KEY;
  if (mode === 'online' && (apiKey === undefined || apiKey === '')) {
    throw invalid('online mode needs api_key (or WANDB_API_KEY)');
  }
  return {
    ...config,
    mode,
    baseUrl,
    api_key: apiKey,
    entity: config.entity ?? env.WANDB_ENTITY,
    project_name: config.project_name ?? env.WANDB_PROJECT,
    dir: config.dir ?? env.WANDB_DIR ?? cwd,
  };
}

/** Characters W&B's SDK refuses in a run id (`wandb_settings.py`, `validate_run_id`). */
const RESERVED_RUN_ID_CHARACTERS = ":;,#?/'";

/**
 * Why W&B would refuse `id` as a run id, or undefined when it is fine: the
 * SDK's rules (not empty, no surrounding whitespace, none of `:;,#?/'`).
 */
export function wandbRunIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'a W&B run id cannot be empty';
  if (id.trim() !== id) return 'a W&B run id cannot start or end with whitespace';
  const reserved = [...RESERVED_RUN_ID_CHARACTERS].find((c) => id.includes(c));
  if (reserved !== undefined) {
    return `a W&B run id cannot contain ${JSON.stringify(reserved)} (nor any of ${RESERVED_RUN_ID_CHARACTERS})`;
  }
  return undefined;
}

function invalid(message: string): TrackstackError {
  return new TrackstackError('INVALID_CONFIG', `wandb: ${message}`, {
    hint: 'see `trackstack experiment-tracker flavor describe wandb`',
  });
}
