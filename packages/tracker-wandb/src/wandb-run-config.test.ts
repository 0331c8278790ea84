import { describe, expect, it } from 'vitest';
import { wandbRunIdProblem } from './wandb-config.js';
import { stepRunWandbId } from './wandb-run-config.js';

describe('W&B run ids', () => {
  it('derives readable, distinct ids for step runs', () => {
    expect(stepRunWandbId('training-run-7', 'trainer')).toBe('training-run-7_trainer');
    const a = stepRunWandbId('run 1', 'step.a');
    const b = stepRunWandbId('run-1', 'step-a');
    expect(a).toMatch(/^run-1_step-a-[0-9a-f]{8}$/);
    expect(b).toBe('run-1_step-a');
    expect(a).not.toBe(b);
    const long = stepRunWandbId('p'.repeat(100), 's');
    expect(long.length).toBeLessThanOrEqual(64);
    expect(wandbRunIdProblem(long)).toBeUndefined();
  });
});
