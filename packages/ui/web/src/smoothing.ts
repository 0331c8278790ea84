/**
 * Chart smoothing as TensorBoard does it: an exponential moving average,
 * debiased so the first points are not pulled toward zero. Weight 0 leaves
 * the values as they are; a non-finite value is skipped (null) and does not
 * enter the average.
 */
export function smooth(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return values.slice();
  const w = Math.min(weight, 0.999);
  let last = 0;
  let seen = 0;
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) return null;
    last = last * w + (1 - w) * value;
    seen += 1;
    return last / (1 - w ** seen);
  });
}
