import { describe, expect, it } from 'vitest';
import { outputLogLine } from './wandb-console.js';

describe('output.log lines', () => {
  it("are written as wandb-core 0.30's legacy format: ERROR for stderr, Python ISO time", () => {
    const timestamp = Date.UTC(2026, 10, 27, 3, 4, 5, 678);
    expect(outputLogLine({ line: 0, stream: 'stdout', text: 'hello', timestamp })).toBe(
      '2026-11-27T03:04:05.678000 hello',
    );
    expect(outputLogLine({ line: 1, stream: 'stderr', text: 'boom', timestamp })).toBe(
      'ERROR 2026-11-27T03:04:05.678000 boom',
    );
    expect(
      outputLogLine({ line: 2, stream: 'stdout', text: 'x'.repeat(5000), timestamp }),
    ).toHaveLength(27 + 4096);
  });
});
