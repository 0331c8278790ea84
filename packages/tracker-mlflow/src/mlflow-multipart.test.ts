import { describe, expect, it } from 'vitest';
import { MlflowError } from './mlflow-error.js';

const answered = (status: number, body: string) =>
  MlflowError.fromResponse('POST x', { status, body });

import { isMultipartUnsupported, MAX_PARTS, planParts } from './mlflow-multipart.js';

const MiB = 1024 * 1024;

describe('planParts', () => {
  it('cuts a file into chunk-size parts, the last one shorter, numbered from 1', () => {
    expect(planParts(12 * MiB + 1, 5 * MiB)).toEqual([
      { partNumber: 1, start: 0, end: 5 * MiB },
      { partNumber: 2, start: 5 * MiB, end: 10 * MiB },
      { partNumber: 3, start: 10 * MiB, end: 12 * MiB + 1 },
    ]);
    expect(planParts(10 * MiB, 5 * MiB)).toHaveLength(2);
  });

  it('grows the parts when the file would need more than 10,000', () => {
    const size = 200 * 1024 * MiB;
    const parts = planParts(size, 10 * MiB);
    expect(parts).toHaveLength(MAX_PARTS);
    expect(parts.at(-1)!.end).toBe(size);
    const covered = parts.reduce((sum, p) => sum + (p.end - p.start), 0);
    expect(covered).toBe(size);
  });
});

describe('isMultipartUnsupported', () => {
  it("recognises MLflow's 501 NOT_IMPLEMENTED and a server without the mpu routes", () => {
    const notImplemented = answered(
      501,
      JSON.stringify({
        error_code: 'NOT_IMPLEMENTED',
        message: 'Multipart upload is not supported for the current artifact repository',
      }),
    );
    expect(isMultipartUnsupported(notImplemented)).toBe(true);
    expect(isMultipartUnsupported(answered(404, '<html>'))).toBe(true);
  });

  it('leaves other failures to the retry policy', () => {
    const missingRun = answered(
      404,
      JSON.stringify({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no run' }),
    );
    expect(isMultipartUnsupported(missingRun)).toBe(false);
    expect(isMultipartUnsupported(answered(503, ''))).toBe(false);
    expect(isMultipartUnsupported(new MlflowError('down', { retryable: true }))).toBe(false);
    expect(isMultipartUnsupported(new Error('other'))).toBe(false);
  });
});
