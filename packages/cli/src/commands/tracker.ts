/**
 * `trackstack experiment-tracker register | list | describe | update |
 * remove-attribute | rename | delete | set | get | verify`: configured
 * trackers, as ZenML's stack component commands.
 */

import type { Flavor } from '@trackstack/core';
import { FlavorRegistry, getTracker, TrackstackError } from '@trackstack/core';
import type { TrackersFile } from '@trackstack/core/store';
import { checkTrackerName, hasReference } from '@trackstack/core/store';
import type { Command } from 'commander';
import { parseConfigArgs, redactConfig, schemaFields } from '../config-values.js';
import type { CliContext } from '../context.js';
import { printJson, printLine, printTable, UsageError, warn } from '../output.js';

type TrackerEntry = TrackersFile['trackers'][string];

export function registerTrackerCommands(parent: Command, context: CliContext): void {
  const registryFor = () => FlavorRegistry.load(context.storeDir);

  parent
    .command('register <name>')
    .description("Configure a tracker of a flavor; values are parsed by the flavor's config schema")
    .requiredOption('-f, --flavor <flavor>', 'the flavor (see `experiment-tracker flavor list`)')
    .option('-l, --label <key=value>', 'a label (repeatable)', collect, [])
    .option('--set', 'make it the active tracker too')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      `
Config values are --key=value (snake_case or kebab-case): numbers, booleans,
JSON for objects and arrays, @path for a file's contents, and references
{{secret.NAME.KEY}} or {{env.NAME}} resolved only when the tracker is built.

Examples:
  $ trackstack experiment-tracker register scratch --flavor local --set
  $ trackstack experiment-tracker register prod --flavor mlflow \\
      --tracking_uri=https://mlflow.example.com --tracking_token='{{secret.mlflow.token}}'`,
    )
    .action(
      async (
        name: string,
        options: { flavor: string; label: string[]; set?: boolean },
        command: Command,
      ) => {
        checkTrackerName(name);
        const { flavor } = (await registryFor()).get(options.flavor);
        const config = parseConfigArgs(flavor, configArgs(command));
        checkConfig(flavor, config);
        warnPlainSecrets(flavor, config);
        await context.store.update('trackers', (file) => {
          if (file.trackers[name] !== undefined) {
            throw new UsageError(
              `a tracker named '${name}' already exists`,
              `change it with \`trackstack experiment-tracker update ${name}\``,
            );
          }
          file.trackers[name] = { flavor: flavor.name, config, labels: parseLabels(options.label) };
          if (options.set === true && !file.active.includes(name)) file.active = [name];
        });
        printLine(
          `Registered tracker '${name}' (flavor ${flavor.name})${options.set ? ', now active' : ''}`,
        );
      },
    );

  parent
    .command('list')
    .description('List configured trackers; the active ones are marked')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker list --json')
    .option('--json', 'print JSON')
    .action(async (_options, command: Command) => {
      const file = context.store.read('trackers');
      const registry = await registryFor();
      const rows = Object.entries(file.trackers).map(([name, entry]) =>
        describeEntry(name, entry, file, flavorOf(registry, entry)),
      );
      if (context.json(command)) return printJson(rows);
      if (rows.length === 0)
        return printLine(
          'No trackers configured: runs go to the local default. Add one with `trackstack experiment-tracker register`.',
        );
      printTable(
        ['active', 'name', 'flavor', 'config', 'labels'],
        rows.map((r) => [
          r.active ? '*' : '',
          r.name,
          r.flavor,
          JSON.stringify(r.config),
          formatLabels(r.labels),
        ]),
      );
    });

  parent
    .command('describe <name>')
    .description("Show a tracker's flavor, config (secrets redacted) and labels")
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker describe prod')
    .option('--json', 'print JSON')
    .action(async (name: string, _options, command: Command) => {
      const file = context.store.read('trackers');
      const entry = lookup(file, name);
      const described = describeEntry(name, entry, file, flavorOf(await registryFor(), entry));
      if (context.json(command)) return printJson(described);
      printLine(`${name}: flavor ${entry.flavor}${described.active ? ' (active)' : ''}`);
      printTable(
        ['field', 'value'],
        Object.entries(described.config).map(([k, v]) => [
          k,
          typeof v === 'string' ? v : JSON.stringify(v),
        ]),
      );
      if (Object.keys(entry.labels).length > 0) printLine(`labels: ${formatLabels(entry.labels)}`);
    });

  parent
    .command('update <name>')
    .description('Change config values or labels of a tracker')
    .option('-l, --label <key=value>', 'a label to add or change (repeatable)', collect, [])
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      '\nExample:\n  $ trackstack experiment-tracker update prod --tracking_uri=https://mlflow2.example.com',
    )
    .action(async (name: string, options: { label: string[] }, command: Command) => {
      const registry = await registryFor();
      await context.store.update('trackers', (file) => {
        const entry = lookup(file, name);
        const { flavor } = registry.get(entry.flavor);
        const changes = parseConfigArgs(flavor, configArgs(command));
        const config = { ...entry.config, ...changes };
        checkConfig(flavor, config);
        warnPlainSecrets(flavor, changes);
        entry.config = config;
        entry.labels = { ...entry.labels, ...parseLabels(options.label) };
      });
      printLine(`Updated tracker '${name}'`);
    });

  parent
    .command('remove-attribute <name> <keys...>')
    .description('Remove config values (back to their defaults) or labels (label:<key>)')
    .addHelpText(
      'after',
      '\nExample:\n  $ trackstack experiment-tracker remove-attribute prod tracking_insecure_tls label:team',
    )
    .action(async (name: string, keys: string[]) => {
      const registry = await registryFor();
      await context.store.update('trackers', (file) => {
        const entry = lookup(file, name);
        for (const key of keys) {
          if (key.startsWith('label:')) {
            if (!(key.slice(6) in entry.labels))
              throw new UsageError(`tracker '${name}' has no label '${key.slice(6)}'`);
            delete entry.labels[key.slice(6)];
          } else {
            if (!(key in entry.config))
              throw new UsageError(`tracker '${name}' has no config value '${key}'`);
            delete entry.config[key];
          }
        }
        checkConfig(registry.get(entry.flavor).flavor, entry.config);
      });
      printLine(`Removed ${keys.join(', ')} from tracker '${name}'`);
    });

  parent
    .command('rename <name> <newName>')
    .description('Rename a tracker (keeps it active if it was)')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker rename prod mlflow-prod')
    .action(async (name: string, newName: string) => {
      checkTrackerName(newName);
      await context.store.update('trackers', (file) => {
        const entry = lookup(file, name);
        if (file.trackers[newName] !== undefined)
          throw new UsageError(`a tracker named '${newName}' already exists`);
        delete file.trackers[name];
        file.trackers[newName] = entry;
        file.active = file.active.map((active) => (active === name ? newName : active));
      });
      printLine(`Renamed tracker '${name}' to '${newName}'`);
    });

  parent
    .command('delete <name>')
    .description('Delete a tracker (runs already logged stay in the store)')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker delete scratch')
    .action(async (name: string) => {
      await context.store.update('trackers', (file) => {
        lookup(file, name);
        delete file.trackers[name];
        file.active = file.active.filter((active) => active !== name);
      });
      printLine(`Deleted tracker '${name}'`);
    });

  parent
    .command('set <names...>')
    .description('Make trackers active; with several, every run is delivered to each of them')
    .option('--add', 'add to the active trackers instead of replacing them')
    .addHelpText(
      'after',
      '\nExamples:\n  $ trackstack experiment-tracker set prod\n  $ trackstack experiment-tracker set prod wandb   # fan-out to both',
    )
    .action(async (names: string[], options: { add?: boolean }) => {
      const active = await context.store.update('trackers', (file) => {
        for (const name of names) lookup(file, name);
        file.active = [...new Set([...(options.add ? file.active : []), ...names])];
        return file.active;
      });
      printLine(`Active: ${active.join(', ')}`);
    });

  parent
    .command('unset')
    .description('Make no tracker active: runs go to the local default')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker unset')
    .action(async () => {
      await context.store.update('trackers', (file) => {
        file.active = [];
      });
      printLine('No active tracker: runs go to the local default');
    });

  parent
    .command('get')
    .description('Show the active tracker(s)')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker get --json')
    .option('--json', 'print JSON')
    .action(async (_options, command: Command) => {
      const file = context.store.read('trackers');
      if (context.json(command)) return printJson({ active: file.active });
      printLine(
        file.active.length === 0
          ? 'local (the default: no tracker is active)'
          : file.active.join(', '),
      );
    });

  parent
    .command('verify [name]')
    .description('Build a tracker (the active one by default) and check that its backend answers')
    .addHelpText('after', '\nExample:\n  $ trackstack experiment-tracker verify prod')
    .action(async (name: string | undefined) => {
      const tracker = await getTracker({
        storeDir: context.storeDir,
        ...(name === undefined ? {} : { name }),
      });
      await tracker.validateConnection();
      printLine(`Tracker '${tracker.name}' (${tracker.flavor?.name ?? 'group'}) is reachable`);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Unknown options and stray arguments: the config values. */
function configArgs(command: Command): string[] {
  return command.args.slice(command.registeredArguments.length);
}

function parseLabels(labels: string[]): Record<string, string> {
  return Object.fromEntries(
    labels.map((label) => {
      const eq = label.indexOf('=');
      if (eq <= 0) throw new UsageError(`label ${JSON.stringify(label)} must be key=value`);
      return [label.slice(0, eq), label.slice(eq + 1)];
    }),
  );
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function lookup(file: TrackersFile, name: string): TrackerEntry {
  const entry = file.trackers[name];
  if (entry === undefined) {
    throw new TrackstackError('UNKNOWN_TRACKER', `no tracker named '${name}'`, {
      hint: 'list them with `trackstack experiment-tracker list`',
    });
  }
  return entry;
}

function flavorOf(registry: FlavorRegistry, entry: TrackerEntry): Flavor | undefined {
  try {
    return registry.get(entry.flavor).flavor;
  } catch {
    return undefined;
  }
}

function describeEntry(
  name: string,
  entry: TrackerEntry,
  file: TrackersFile,
  flavor: Flavor | undefined,
) {
  return {
    name,
    flavor: entry.flavor,
    active: file.active.includes(name),
    // Without its flavor, nothing says which fields are secret: show none of the values.
    config:
      flavor === undefined
        ? Object.fromEntries(Object.keys(entry.config).map((k) => [k, '(flavor not loaded)']))
        : redactConfig(flavor, entry.config),
    labels: entry.labels,
  };
}

/**
 * Validates a config as ZenML does at registration. Fields that hold
 * `{{...}}` references are checked when the tracker is built, not now.
 */
function checkConfig(flavor: Flavor, config: Record<string, unknown>): void {
  const result = flavor.configSchema.safeParse(config);
  if (result.success) return;
  const problems = result.error.issues.filter((issue) => {
    const field = issue.path[0];
    return !(typeof field === 'string' && hasReference(config[field]));
  });
  if (problems.length === 0) return;
  throw new TrackstackError(
    'INVALID_CONFIG',
    `invalid config for flavor '${flavor.name}': ${problems.map((p) => `${p.path.join('.') || '(config)'}: ${p.message}`).join('; ')}`,
    { hint: `see \`trackstack experiment-tracker flavor describe ${flavor.name}\`` },
  );
}

function warnPlainSecrets(flavor: Flavor, config: Record<string, unknown>): void {
  for (const field of schemaFields(flavor)) {
    if (field.secret && field.name in config && !hasReference(config[field.name])) {
      warn(
        `'${field.name}' is a secret given as plain text; store it with \`trackstack secret create NAME --${field.name}=...\` and use {{secret.NAME.${field.name}}}`,
      );
    }
  }
}
