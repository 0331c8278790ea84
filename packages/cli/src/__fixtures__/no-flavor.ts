/** Exports something, but no flavor: registering it must say so. */
export const answer = 42;
export function helper(): string {
  return 'not a flavor';
}
