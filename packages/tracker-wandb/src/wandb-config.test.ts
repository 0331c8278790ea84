import { describe, expect, it } from 'vitest';
import { wandbRunIdProblem } from './wandb-config.js';

describe('W&B run ids', () => {
  it("follows the SDK's rules", () => {
    expect(wandbRunIdProblem('0190a0a0-0000-7000-8000-000000000001')).toBeUndefined();
    expect(wandbRunIdProblem('training-run-7_trainer')).toBeUndefined();
    expect(wandbRunIdProblem('')).toMatch(/empty/);
    expect(wandbRunIdProblem(' x')).toMatch(/whitespace/);
    for (const c of ":;,#?/'") expect(wandbRunIdProblem(`a${c}b`)).toMatch(/cannot contain/);
  });
});
