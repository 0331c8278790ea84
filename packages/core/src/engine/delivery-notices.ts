/**
 * What a delivery tells the user while its backend does not take its requests, so that a
 * server at its limits reads as a message, not as a hang: once per outage that the backend is
 * gone or cannot serve, with its own words and what they usually mean (the error's hint: a
 * database out of connections, a worker restarting); once per kind of failure that one request
 * failed and goes again; once per slow spell that a request has had no answer for a long time;
 * and when the backend answers again. Everything else about retrying is debug.
 */
import type { BackendError } from '../contract/errors.js';
import type { Logger } from '../contract/log.js';

/** A request with no answer for this long is said to be slow (once per slow spell). */
export const SLOW_REQUEST_MS = 30_000;

/**
 * An outage for the same reason as one said less than this long ago is not said again: a
 * server at its limit (a database out of connections) fails and recovers many times a minute.
 */
const REPEAT_MS = 5 * 60_000;

/** What kind of failure an error is, for saying each kind once. */
function kindOf(error: BackendError | undefined): string {
  if (error === undefined) return '';
  return error.hint ?? `${error.code}:${error.statusCode ?? ''}`;
}

/** The error's message with what it usually means. */
export function explain(error: BackendError): string {
  return error.hint === undefined ? error.message : `${error.message}: ${error.hint}`;
}

export class DeliveryNotices {
  private readonly destination: string;
  private readonly logger: Logger;
  /** Down now: and said so ('said'), or not, as a repeat ('quiet'). */
  private outage: 'none' | 'said' | 'quiet' = 'none';
  private readonly outagesSaid = new Map<string, number>();
  private slowSaid = false;
  private readonly retriesSaid = new Set<string>();
  private lastFailure: BackendError | undefined;

  constructor(destination: string, logger: Logger) {
    this.destination = destination;
    this.logger = logger;
  }

  /** The last retryable failure since the backend last took a request, explained. */
  get retrying(): string | undefined {
    return this.lastFailure === undefined ? undefined : explain(this.lastFailure);
  }

  /** A request failed and goes again. `destinationWide`: it took the destination down. */
  retried(error: BackendError, destinationWide: boolean): void {
    this.lastFailure = error;
    if (destinationWide) {
      this.down(error);
      return;
    }
    // One request's own failure, e.g. MLflow's pool used up on a 400: said once per kind.
    const kind = kindOf(error);
    if (this.retriesSaid.has(kind)) return;
    this.retriesSaid.add(kind);
    this.logger.warn(`${this.destination}: a request failed and goes again (${explain(error)})`);
  }

  /**
   * The destination went down (`error`: why, when known). Said once per outage, and not again
   * for the same reason within REPEAT_MS.
   */
  down(error: BackendError | undefined = this.lastFailure, now = Date.now()): void {
    if (this.outage !== 'none') return;
    const kind = kindOf(error);
    const saidAt = this.outagesSaid.get(kind);
    if (saidAt !== undefined && now - saidAt < REPEAT_MS) {
      this.outage = 'quiet';
      return;
    }
    this.outage = 'said';
    this.outagesSaid.set(kind, now);
    const what =
      error === undefined || error.code === 'BACKEND_UNREACHABLE'
        ? 'cannot reach the backend'
        : 'the backend cannot take requests now';
    const why = error === undefined ? '' : ` (${explain(error)})`;
    this.logger.warn(
      `${this.destination}: ${what}${why}; logging goes on into the journal, and delivery resumes as soon as it answers`,
    );
  }

  /** The backend took a request again. */
  up(): void {
    const said = this.outage === 'said';
    this.outage = 'none';
    if (!said) return;
    this.logger.info(`${this.destination}: backend reachable again, delivering`);
  }

  /** A request (`kind`: write, finish, ...) has had no answer for `ms`. */
  slow(kind: string, ms: number): void {
    if (this.slowSaid) return;
    this.slowSaid = true;
    this.logger.warn(
      `${this.destination}: a ${kind} request has had no answer for ${Math.round(ms / 1000)} s: the backend is slow (overloaded, or waiting on its database); logging goes on into the journal, and the request is given up to the tracker's request timeout, then sent again`,
    );
  }

  /** A request succeeded (`prompt`: within SLOW_REQUEST_MS, so a slow spell, if any, is over). */
  answered(prompt: boolean): void {
    this.lastFailure = undefined;
    if (!prompt || !this.slowSaid) return;
    this.slowSaid = false;
    this.logger.info(`${this.destination}: the backend answers promptly again`);
  }
}
