/**
 * One timer for the earliest of the times asked for: the sender and the
 * health each wait for several things (a backoff, a pause, the pacing) and
 * need to be woken at the first of them, once.
 */
export class Alarm {
  private readonly ring: () => void;
  private timer: NodeJS.Timeout | undefined;
  private at = 0;

  constructor(ring: () => void) {
    this.ring = ring;
  }

  /** Rings at `at` (epoch ms), unless it is already set to ring earlier. Never keeps the process alive. */
  set(at: number): void {
    if (this.timer !== undefined && this.at <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.at = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.ring();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
