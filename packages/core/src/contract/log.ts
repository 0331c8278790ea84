/**
 * Where core says things a person should read: a backend went away, a run was
 * left in the journal. One line each, on stderr, never a secret.
 * TRACKSTACK_LOG=silent|warn|info|debug picks how much (default info).
 */
export interface Logger {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

const LEVELS = { silent: 0, warn: 1, info: 2, debug: 3 } as const;

function level(): number {
  const name = process.env.TRACKSTACK_LOG as keyof typeof LEVELS | undefined;
  return name !== undefined && name in LEVELS ? LEVELS[name] : LEVELS.info;
}

export const consoleLogger: Logger = {
  warn: (message) => {
    if (level() >= LEVELS.warn) process.stderr.write(`trackstack: warning: ${message}\n`);
  },
  info: (message) => {
    if (level() >= LEVELS.info) process.stderr.write(`trackstack: ${message}\n`);
  },
  debug: (message) => {
    if (level() >= LEVELS.debug) process.stderr.write(`trackstack: debug: ${message}\n`);
  },
};

export const silentLogger: Logger = { warn: () => {}, info: () => {}, debug: () => {} };
