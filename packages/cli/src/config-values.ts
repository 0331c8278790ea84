/**
 * `--key=value` config arguments, read the way ZenML reads them: each value
 * arrives as a string and is parsed by the type its flavor's schema gives the
 * field (numbers, booleans, JSON for objects and arrays, `@path` for a file's
 * contents). Field names are snake_case; the kebab-case spelling is accepted.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configJsonSchema, type Flavor } from '@trackstack/core';
import { hasReference } from '@trackstack/core/store';
import { UsageError } from './output.js';

interface JsonSchemaProperty {
  type?: string | string[];
  anyOf?: JsonSchemaProperty[];
  oneOf?: JsonSchemaProperty[];
  secret?: boolean;
  default?: unknown;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  format?: string;
}

export interface SchemaField {
  name: string;
  types: string[];
  required: boolean;
  secret: boolean;
  default: unknown;
  description: string | undefined;
  enum: unknown[] | undefined;
}

/** The flavor's top-level config fields, from its JSON Schema. */
export function schemaFields(flavor: Flavor): SchemaField[] {
  const schema = configJsonSchema(flavor) as {
    properties?: Record<string, JsonSchemaProperty>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    types: typesOf(property),
    required: required.has(name) && property.default === undefined,
    secret: property.secret === true || (property.anyOf ?? []).some((p) => p.secret === true),
    default: property.default,
    description: property.description,
    enum:
      property.enum ??
      property.anyOf?.flatMap((p) => p.enum ?? (p.const !== undefined ? [p.const] : [])),
  }));
}

function typesOf(property: JsonSchemaProperty): string[] {
  if (Array.isArray(property.type)) return property.type;
  if (property.type !== undefined) return [property.type];
  const options = property.anyOf ?? property.oneOf ?? [];
  const types = options.flatMap(typesOf);
  if (property.enum !== undefined && types.length === 0) return ['string'];
  return [...new Set(types)];
}

/**
 * Splits raw arguments (`--key=value`, `--key value`) into config fields and
 * parses each value by its field's type. Unknown fields are usage errors.
 */
export function parseConfigArgs(
  flavor: Flavor,
  args: string[],
  cwd = process.cwd(),
): Record<string, unknown> {
  const fields = new Map(schemaFields(flavor).map((field) => [field.name, field]));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(arg)}`,
        'config values are given as --key=value',
      );
    }
    const eq = arg.indexOf('=');
    let key = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let raw: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (raw === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new UsageError(`--${key} needs a value`, `write --${key}=<value>`);
      }
      raw = next;
      i += 1;
    }
    if (!fields.has(key) && fields.has(key.replaceAll('-', '_'))) key = key.replaceAll('-', '_');
    const field = fields.get(key);
    if (field === undefined) {
      throw new UsageError(
        `flavor '${flavor.name}' has no config field '${key}'`,
        `its fields: ${[...fields.keys()].join(', ') || '(none)'}`,
      );
    }
    out[key] = parseValue(field, raw, cwd);
  }
  return out;
}

function parseValue(field: SchemaField, raw: string, cwd: string): unknown {
  let text = raw;
  if (text.startsWith('@') && text.length > 1) {
    const path = resolve(cwd, text.slice(1));
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new UsageError(`--${field.name}=@${text.slice(1)}: cannot read ${path}`);
    }
    // A file's trailing newline is not part of the value (a token, a URL).
    if (!field.types.includes('object') && !field.types.includes('array'))
      text = text.replace(/\r?\n$/, '');
  }
  if (hasReference(text)) return text;
  const types = field.types;
  if ((types.includes('number') || types.includes('integer')) && !types.includes('string')) {
    const number = Number(text);
    return text.trim() !== '' && Number.isFinite(number) ? number : text;
  }
  if (types.includes('boolean') && !types.includes('string')) {
    const lowered = text.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lowered)) return true;
    if (['false', '0', 'no', 'off'].includes(lowered)) return false;
    return text;
  }
  if ((types.includes('object') || types.includes('array')) && !types.includes('string')) {
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(
        `--${field.name} must be JSON (an ${types.includes('array') ? 'array' : 'object'})`,
      );
    }
  }
  return text;
}

/** A config for display: secret fields given as plain values are masked; references are shown. */
export function redactConfig(
  flavor: Flavor | undefined,
  config: Record<string, unknown>,
): Record<string, unknown> {
  const secrets = new Set(
    flavor === undefined
      ? []
      : schemaFields(flavor)
          .filter((f) => f.secret)
          .map((f) => f.name),
  );
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key,
      secrets.has(key) && !hasReference(value) ? '********' : value,
    ]),
  );
}
