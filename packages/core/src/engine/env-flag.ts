/** An environment variable that turns a default-on feature off: `0`, `false`, `no` or `off`. */
export function envTurnsOff(value: string | undefined): boolean {
  const flag = value?.trim().toLowerCase();
  return flag === '0' || flag === 'false' || flag === 'no' || flag === 'off';
}
