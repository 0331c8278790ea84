/**
 * `trackstack experiment-tracker flavor init <name>`: a new flavor package,
 * copied from @trackstack/tracker-template with every name changed, ready to
 * build, test and publish on its own.
 *
 * The template travels inside this package as `dist/templates/flavor.json`
 * (the build makes it with scripts/copy-flavor-template.mjs, which also
 * removes every tie to the monorepo), so the command works wherever the CLI
 * is installed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILT_IN_FLAVORS, FLAVOR_NAME } from '@trackstack/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printJson, printLine, UsageError } from '../output.js';

/** npm's rules for a package name (lower case, URL-safe, optionally scoped). */
const PACKAGE_NAME = /^(?:@[a-z0-9-*~][a-z0-9-*._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Parts of the template's Markdown that only make sense in the template itself. */
const DROPPED_BLOCK = /<!-- flavor-init:drop -->[\s\S]*?<!-- flavor-init:end -->\n*/g;

interface TemplateBundle {
  format: number;
  from: string;
  files: Record<string, string>;
}

interface FlavorNames {
  /** The flavor's name, as users type it after --flavor: `my-flavor`. */
  flavor: string;
  /** `MyFlavor`, for classes and types. */
  pascal: string;
  /** `myFlavor`, for functions and values. */
  camel: string;
  /** `MY_FLAVOR`, for constants and environment variables. */
  upper: string;
  /** `my_flavor`, for snake_case keys (`my_flavor_run_id`). */
  snake: string;
  packageName: string;
}

interface ScaffoldResult {
  dir: string;
  names: FlavorNames;
  className: string;
  files: string[];
  from: string;
}

export function registerFlavorInitCommand(flavor: Command, context: CliContext): void {
  flavor
    .command('init <name>')
    .description(
      'Make a new flavor package from the template: every name changed, ready to build, test and publish',
    )
    .option('-d, --dir <path>', 'where to write it (default ./trackstack-flavor-<name>)')
    .option('-p, --package <name>', 'its npm name (default trackstack-flavor-<name>)')
    .option('--json', 'print what was made as JSON')
    .addHelpText(
      'after',
      `
The name is what users type after --flavor: a lower-case letter, then up to 63
lower-case letters, digits, '-' or '_'.

Examples:
  $ trackstack experiment-tracker flavor init acme
  $ trackstack experiment-tracker flavor init acme --dir packages/acme --package @acme/trackstack-flavor`,
    )
    .action(async (name: string, options: { dir?: string; package?: string }, command: Command) => {
      const result = await scaffoldFlavor({
        name,
        dir: options.dir,
        packageName: options.package,
      });
      if (context.json(command)) {
        return printJson({
          dir: result.dir,
          package: result.names.packageName,
          flavor: result.names.flavor,
          className: result.className,
          from: result.from,
          files: result.files,
        });
      }
      printNextSteps(result);
    });
}

/** Writes the new package. Throws a UsageError for a bad name or a directory in use. */
async function scaffoldFlavor(options: {
  name: string;
  dir?: string | undefined;
  packageName?: string | undefined;
  cwd?: string;
}): Promise<ScaffoldResult> {
  const names = flavorNames(options.name, options.packageName);
  const dir = resolve(
    options.cwd ?? process.cwd(),
    options.dir ?? `trackstack-flavor-${names.flavor}`,
  );
  assertUsableDir(dir);
  const bundle = loadTemplate();
  const files: string[] = [];
  for (const [path, text] of Object.entries(bundle.files)) {
    const target = rename(path, names);
    const content =
      target === 'package.json' ? packageJson(text, names) : renderText(path, text, names);
    await mkdir(dirname(join(dir, target)), { recursive: true });
    await writeFile(join(dir, target), content);
    files.push(target);
  }
  // Written here, not shipped: npm leaves .gitignore files out of published packages.
  await writeFile(join(dir, '.gitignore'), 'node_modules/\ndist/\n*.tsbuildinfo\n');
  files.push('.gitignore');
  return {
    dir,
    names,
    className: `${names.pascal}ExperimentTracker`,
    files: files.sort(),
    from: bundle.from,
  };
}

function flavorNames(flavor: string, packageName?: string): FlavorNames {
  if (!FLAVOR_NAME.test(flavor)) {
    throw new UsageError(
      `'${flavor}' is not a flavor name`,
      "use a lower-case letter, then up to 63 lower-case letters, digits, '-' or '_' (e.g. acme, my-tracker)",
    );
  }
  const builtIn = BUILT_IN_FLAVORS.map((tracker) => tracker.FLAVOR.name) as string[];
  if (builtIn.includes(flavor)) {
    throw new UsageError(`'${flavor}' is a built-in flavor`, 'pick another name');
  }
  const pkg = packageName ?? `trackstack-flavor-${flavor}`;
  if (pkg.length > 214 || !PACKAGE_NAME.test(pkg)) {
    throw new UsageError(
      `'${pkg}' is not a valid npm package name`,
      'lower case, no spaces, at most 214 characters, optionally @scope/name',
    );
  }
  const words = flavor.split(/[-_]+/).filter((word) => word !== '');
  const pascal = words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
  return {
    flavor,
    pascal,
    camel: pascal[0]!.toLowerCase() + pascal.slice(1),
    upper: words.join('_').toUpperCase(),
    snake: words.join('_'),
    packageName: pkg,
  };
}

/**
 * Every form of the template's names, found in one pass (so a new name that
 * itself contains "template" is not renamed again): its package name,
 * TEMPLATE (constants), Template (types), template followed by a capital
 * (camelCase values) or by `_` (snake_case keys), and the rest (the flavor
 * name, file prefixes).
 */
const TEMPLATE_NAMES =
  /(@trackstack\/tracker-template)|(TEMPLATE)|(Template)|(template)(?=[A-Z])|(template)(?=_)|template/g;

function rename(text: string, names: FlavorNames): string {
  return text.replace(
    TEMPLATE_NAMES,
    (_match, pkg?: string, upper?: string, pascal?: string, camel?: string, snake?: string) => {
      if (pkg !== undefined) return names.packageName;
      if (upper !== undefined) return names.upper;
      if (pascal !== undefined) return names.pascal;
      if (camel !== undefined) return names.camel;
      if (snake !== undefined) return names.snake;
      return names.flavor;
    },
  );
}

function renderText(path: string, text: string, names: FlavorNames): string {
  return rename(path.endsWith('.md') ? text.replace(DROPPED_BLOCK, '') : text, names);
}

function packageJson(text: string, names: FlavorNames): string {
  const manifest = JSON.parse(rename(text, names)) as Record<string, unknown>;
  manifest.version = '0.1.0';
  manifest.description = `The ${names.flavor} flavor for trackstack.`;
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

function assertUsableDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) {
    throw new UsageError(`${dir} exists and is not a directory`, 'choose another one with --dir');
  }
  if (readdirSync(dir).length > 0) {
    throw new UsageError(
      `${dir} is not empty: nothing was written`,
      'choose an empty or new directory with --dir',
    );
  }
}

/** The bundle the CLI's build made: `<cli>/dist/templates/flavor.json`. */
function loadTemplate(): TemplateBundle {
  const path = join(cliPackageDir(), 'dist/templates/flavor.json');
  if (!existsSync(path)) {
    throw Object.assign(new Error(`the flavor template is missing (${path})`), {
      hint: 'build @trackstack/cli: its build bundles packages/tracker-template into dist/templates/flavor.json',
    });
  }
  const bundle = JSON.parse(readFileSync(path, 'utf8')) as TemplateBundle;
  if (bundle.format !== 1) {
    throw new Error(`${path} is of format ${bundle.format}; this trackstack reads format 1`);
  }
  return bundle;
}

/** The directory of @trackstack/cli's package.json, above this (bundled or source) file. */
function cliPackageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === '@trackstack/cli') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the @trackstack/cli package this runs from');
    dir = parent;
  }
}

function printNextSteps(result: ScaffoldResult): void {
  const { names } = result;
  const where = relative(process.cwd(), result.dir) || '.';
  printLine(
    `Created ${names.packageName} in ${result.dir}: flavor '${names.flavor}', class ${result.className}, ${result.files.length} files`,
  );
  printLine();
  printLine('Next steps:');
  printLine(`  cd ${where}`);
  printLine('  npm install');
  printLine(
    `  npm run build && npm test      # the conformance kit against the package's own server`,
  );
  printLine(`  node dist/${names.flavor}-server-cli.js --port 8080 &`);
  printLine('  npx trackstack experiment-tracker flavor register ./dist/index.js');
  printLine(
    `  npx trackstack experiment-tracker register mine --flavor ${names.flavor} --endpoint_url=http://127.0.0.1:8080 --set`,
  );
  printLine('  npx trackstack run -- node train.js   # any program that calls getTracker()');
  printLine();
  printLine(
    `Then make it talk to your backend: src/${names.flavor}-client.ts and src/${names.flavor}-tracker.ts (README.md, "Making it your own").`,
  );
  printLine(
    'Publish it with `npm publish` (or changesets); once installed, the registry finds it.',
  );
}
