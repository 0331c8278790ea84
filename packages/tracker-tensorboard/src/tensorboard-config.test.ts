import { isAbsolute, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTensorboardConfig, tensorboardConfigSchema } from './tensorboard-config.js';

describe('tensorboardConfigSchema', () => {
  it("defaults to PyTorch's runs/, a write a second at most, files of 256 MiB", () => {
    const config = tensorboardConfigSchema.parse({});
    expect(config).toEqual({ log_dir: 'runs', flush_interval_s: 1, max_file_mb: 256 });
    const resolved = resolveTensorboardConfig(config);
    expect(isAbsolute(resolved.logDir)).toBe(true);
    expect(resolved.logDir).toBe(join(process.cwd(), 'runs'));
    expect(resolved.maxFileBytes).toBe(256 * 1024 * 1024);
  });

  it('refuses unknown fields, an empty log_dir and a negative interval', () => {
    expect(() => tensorboardConfigSchema.parse({ logdir: 'x' })).toThrow();
    expect(() => tensorboardConfigSchema.parse({ log_dir: '' })).toThrow();
    expect(() => tensorboardConfigSchema.parse({ flush_interval_s: -1 })).toThrow();
    expect(() => tensorboardConfigSchema.parse({ max_file_mb: 0 })).toThrow();
  });
});
