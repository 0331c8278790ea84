/**
 * The flavor's config: where the server is, the token it wants, how long one
 * request may take. The schema is what `trackstack experiment-tracker flavor
 * describe` prints and what `--key=value` arguments are parsed by; the rules
 * that need more than one field are checked when the tracker first talks to
 * the server, so importing the flavor never throws.
 */
import { secret, TrackstackError } from '@trackstack/core';
import { baseUrlOf, parseEndpoint } from '@trackstack/core/flavor';
import { z } from 'zod';

export const templateConfigSchema = z
  .object({
    endpoint_url: z
      .url({ protocol: /^https?$/ })
      .describe('http(s) URL of the server (e.g. http://127.0.0.1:8080); a base path is kept'),
    api_token: secret(z.string().min(1))
      .optional()
      .describe('sent as Authorization: Bearer; give it as {{secret.NAME.KEY}}'),
    timeout_s: z
      .number()
      .positive()
      .max(3600)
      .default(30)
      .describe('timeout of one HTTP request, in seconds'),
  })
  .strict();

export type TemplateConfig = z.output<typeof templateConfigSchema>;

/** The config with its cross-field rules checked. */
export interface ResolvedTemplateConfig extends TemplateConfig {
  /** The endpoint without a trailing slash: request paths are appended to it. */
  baseUrl: string;
}

export function resolveTemplateConfig(config: TemplateConfig): ResolvedTemplateConfig {
  const url = parseEndpoint(config.endpoint_url, {
    field: 'endpoint_url',
    credentialsField: 'api_token',
    // A bearer token over plain http can be read by anyone on the way; only this machine is exempt.
    sendsCredentials: config.api_token !== undefined,
    bareBase: true,
  });
  if (typeof url === 'string') throw invalid(url);
  return { ...config, baseUrl: baseUrlOf(url) };
}

function invalid(message: string): TrackstackError {
  return new TrackstackError('INVALID_CONFIG', `template: ${message}`, {
    hint: 'see `trackstack experiment-tracker flavor describe template`',
  });
}
