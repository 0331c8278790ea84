/** `trackstack experiment-tracker flavor register | list | describe | delete`. */
import { isAbsolute, resolve } from 'node:path';
import { FlavorRegistry, loadFlavorSource, TrackstackError } from '@trackstack/core';
import type { Command } from 'commander';
import { schemaFields } from '../config-values.js';
import type { CliContext } from '../context.js';
import { printJson, printLine, printTable, UsageError } from '../output.js';
import { registerFlavorInitCommand } from './flavor-init.js';

export function registerFlavorCommands(parent: Command, context: CliContext): void {
  const flavor = parent
    .command('flavor')
    .description('Flavors: the kinds of experiment tracker (local, mlflow, wandb, yours)');

  flavor
    .command('register <source>')
    .description(
      'Validate a flavor from a file (.ts, .mts, .js, .mjs) or an installed package, and record it',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ trackstack experiment-tracker flavor register ./flavors/my-tracker.ts
  $ trackstack experiment-tracker flavor register ./dist/index.js#MyTracker
  $ trackstack experiment-tracker flavor register @acme/trackstack-flavor`,
    )
    .action(async (source: string) => {
      const stored = storedSource(source);
      const resolved = await loadFlavorSource(stored);
      const name = resolved.flavor.name;
      const registry = await FlavorRegistry.load(context.storeDir);
      await context.store.update('flavors', (file) => {
        const existing = registry
          .list()
          .find((entry) => entry.name === name && entry.resolved !== undefined);
        if (file.flavors[name] !== undefined || existing !== undefined) {
          throw new TrackstackError(
            'INVALID_FLAVOR',
            `a flavor named '${name}' already exists (${existing?.origin ?? 'registered'}: ${existing?.source ?? file.flavors[name]?.source})`,
            {
              hint: `delete it first with \`trackstack experiment-tracker flavor delete ${name}\`, or rename yours`,
            },
          );
        }
        file.flavors[name] = { source: stored, registeredAt: Date.now() };
      });
      if (context.json()) printJson({ name, source: stored });
      else printLine(`Registered flavor '${name}' from ${stored}`);
    });

  flavor
    .command('list')
    .description(
      'List every flavor: built-in, from installed packages, registered; broken ones with their error',
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ trackstack experiment-tracker flavor list\n  $ trackstack experiment-tracker flavor list --json',
    )
    .action(async (_options, command: Command) => {
      const registry = await FlavorRegistry.load(context.storeDir);
      const entries = registry.list().map((entry) => ({
        name: entry.name,
        origin: entry.origin,
        source: entry.source,
        status: entry.error === undefined ? 'ok' : 'error',
        error: entry.error?.message,
        docsUrl: entry.resolved?.flavor.docsUrl,
      }));
      if (context.json(command)) return printJson(entries);
      printTable(
        ['name', 'origin', 'source', 'status'],
        entries.map((e) => [
          e.name,
          e.origin,
          e.source,
          e.error === undefined ? 'ok' : `error: ${e.error}`,
        ]),
      );
    });

  flavor
    .command('describe <name>')
    .description("Show a flavor's config schema: fields, types, required, defaults, secrets, docs")
    .option('--json', 'print the JSON Schema and field list')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker flavor describe local')
    .action(async (name: string, _options, command: Command) => {
      const registry = await FlavorRegistry.load(context.storeDir);
      const { flavor: found } = registry.get(name);
      const fields = schemaFields(found);
      if (context.json(command)) {
        const { configJsonSchema } = await import('@trackstack/core');
        return printJson({
          name: found.name,
          displayName: found.displayName,
          type: found.type,
          specificationVersion: found.specificationVersion,
          docsUrl: found.docsUrl,
          sdkDocsUrl: found.sdkDocsUrl,
          logoUrl: found.logoUrl,
          fields,
          configSchema: configJsonSchema(found),
        });
      }
      printLine(
        `${found.displayName} (${found.name}), ${found.type}, contract ${found.specificationVersion}`,
      );
      if (found.docsUrl !== undefined) printLine(`docs: ${found.docsUrl}`);
      if (found.sdkDocsUrl !== undefined) printLine(`sdk docs: ${found.sdkDocsUrl}`);
      if (fields.length === 0) return printLine('config: (no fields)');
      printTable(
        ['field', 'type', 'required', 'default', 'secret', 'description'],
        fields.map((f) => [
          f.name,
          f.enum !== undefined && f.enum.length > 0
            ? f.enum.map(String).join(' | ')
            : f.types.join(' | '),
          f.required ? 'yes' : 'no',
          f.default === undefined ? '' : JSON.stringify(f.default),
          f.secret ? 'secret' : '',
          f.description ?? '',
        ]),
      );
    });

  registerFlavorInitCommand(flavor, context);

  flavor
    .command('delete <name>')
    .description('Forget a registered flavor (built-in and package flavors cannot be deleted)')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker flavor delete jsonl')
    .action(async (name: string) => {
      const trackers = context.store.read('trackers');
      const users = Object.entries(trackers.trackers)
        .filter(([, t]) => t.flavor === name)
        .map(([n]) => n);
      if (users.length > 0) {
        throw new UsageError(
          `flavor '${name}' is used by tracker(s) ${users.join(', ')}`,
          'delete or re-register those trackers first',
        );
      }
      await context.store.update('flavors', (file) => {
        if (file.flavors[name] === undefined) {
          throw new TrackstackError('UNKNOWN_FLAVOR', `no registered flavor named '${name}'`, {
            hint: 'only flavors added with `flavor register` can be deleted',
          });
        }
        delete file.flavors[name];
      });
      printLine(`Deleted flavor '${name}'`);
    });
}

/** Files are recorded by absolute path so the registration works from any directory. */
function storedSource(source: string): string {
  const hash = source.lastIndexOf('#');
  const specifier = hash === -1 ? source : source.slice(0, hash);
  const exportName = hash === -1 ? '' : source.slice(hash);
  const looksLikeFile =
    specifier.startsWith('.') || isAbsolute(specifier) || /\.(m|c)?(t|j)s$/.test(specifier);
  return looksLikeFile ? `${resolve(specifier)}${exportName}` : source;
}
