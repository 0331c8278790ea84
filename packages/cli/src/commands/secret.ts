/** `trackstack secret create | list | delete`: values never echoed, kept 0600. */

import { TrackstackError } from '@trackstack/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printJson, printLine, printTable, UsageError } from '../output.js';

const NAME = /^[A-Za-z0-9_.-]+$/;

export function registerSecretCommands(program: Command, context: CliContext): void {
  const secret = program
    .command('secret')
    .description('Secrets that tracker configs refer to as {{secret.NAME.KEY}}');

  secret
    .command('create <name>')
    .description(
      'Create or replace a secret; its value from --KEY=VALUE, --value, standard input, or a prompt',
    )
    .option(
      '--value <value>',
      "the value of key 'value' (prefer stdin or the prompt: arguments show up in process lists)",
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      `
Examples:
  $ trackstack secret create mlflow                      # prompts for 'value', not echoed
  $ printf %s "$TOKEN" | trackstack secret create mlflow  # from standard input
  $ trackstack secret create wandb --api_key=...          # several keys: --KEY=VALUE
Refer to it in a tracker config as {{secret.mlflow.value}} or {{secret.wandb.api_key}}.`,
    )
    .action(async (name: string, options: { value?: string }, command: Command) => {
      if (!NAME.test(name))
        throw new UsageError(
          `secret name ${JSON.stringify(name)} may hold only letters, digits, '.', '-' and '_'`,
        );
      const values = parseKeyValues(command.args.slice(1));
      if (options.value !== undefined) values.value = options.value;
      if (Object.keys(values).length === 0) values.value = await readValue(name);
      if (Object.values(values).some((v) => v === ''))
        throw new UsageError('a secret value must not be empty');
      await context.store.update('secrets', (file) => {
        file.secrets[name] = values;
      });
      printLine(`Saved secret '${name}' (keys: ${Object.keys(values).join(', ')})`);
    });

  secret
    .command('list')
    .description('List secrets and their keys (never their values)')
    .addHelpText('after', '\nExample:\n  $ trackstack secret list --json')
    .option('--json', 'print JSON')
    .action((_options, command: Command) => {
      const file = context.store.read('secrets');
      const rows = Object.entries(file.secrets).map(([name, values]) => ({
        name,
        keys: Object.keys(values),
      }));
      if (context.json(command)) return printJson(rows);
      if (rows.length === 0) return printLine('No secrets.');
      printTable(
        ['name', 'keys'],
        rows.map((r) => [r.name, r.keys.join(', ')]),
      );
    });

  secret
    .command('delete <name>')
    .description('Delete a secret')
    .addHelpText('after', '\nExample:\n  $ trackstack secret delete mlflow')
    .action(async (name: string) => {
      await context.store.update('secrets', (file) => {
        if (file.secrets[name] === undefined)
          throw new TrackstackError('INVALID_CONFIG', `no secret named '${name}'`);
        delete file.secrets[name];
      });
      printLine(`Deleted secret '${name}'`);
    });
}

function parseKeyValues(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const match = /^--([A-Za-z0-9_.-]+)=(.*)$/s.exec(arg);
    if (match === null)
      throw new UsageError(`unexpected argument (a secret's keys are given as --KEY=VALUE)`);
    out[match[1]!] = match[2]!;
  }
  return out;
}

async function readValue(name: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const { default: password } = await import('@inquirer/password');
  return password({ message: `Value of secret '${name}':`, mask: false });
}
