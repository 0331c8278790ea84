/** Finding and stopping the process that listens on a loopback port (Linux /proc). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { sleep } from './util.js';

/** Socket inodes listening on 127.0.0.1:port (or any address) per /proc/net/tcp. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const state = fields[3];
      const inode = fields[9];
      if (local === undefined || inode === undefined) continue;
      const localPort = Number.parseInt(local.split(':')[1] ?? '', 16);
      if (localPort === port && state === '0A') inodes.add(inode);
    }
  }
  return inodes;
}

/** Pids holding a listening socket on `port`. */
function listenerPids(port: number): number[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(link);
        if (match !== null && inodes.has(match[1]!)) {
          pids.push(Number(entry));
          break;
        }
      } catch {
        // gone
      }
    }
  }
  return pids;
}

function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[2]);
  } catch {
    return undefined;
  }
}

function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Stops the server listening on `port` as `kill` would: SIGTERM to its whole process group,
 * SIGKILL after 5 s; resolves once the group is gone and the port refuses connections.
 * Returns the process groups it stopped.
 */
export async function stopListener(port: number): Promise<number[]> {
  const groups = [
    ...new Set(
      listenerPids(port)
        .map(processGroup)
        .filter((g): g is number => g !== undefined),
    ),
  ];
  if (groups.length === 0) throw new Error(`nothing listens on port ${port}`);
  const own = processGroup(process.pid);
  if (groups.includes(process.pid) || (own !== undefined && groups.includes(own))) {
    throw new Error('refusing to stop the test process itself');
  }
  for (const group of groups) process.kill(-group, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (groups.some(alive) && Date.now() < deadline) await sleep(50);
  for (const group of groups.filter(alive)) process.kill(-group, 'SIGKILL');
  while (groups.some(alive) || (await accepting(port))) await sleep(50);
  return groups;
}
