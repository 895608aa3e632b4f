// How the kernel compares a value with a limit.

/**
 * Thresholds are inclusive, and a value equal to its threshold in decimal must
 * pass even when binary floating point lands a hair below it (0.1 * 250 is
 * 25.000000000000004, 0.25 / 0.1 is 2.4999999999999996): comparisons allow
 * a relative 1e-9.
 */
const TOLERANCE = 1e-9;
export function atLeast(value: number, minimum: number): boolean {
  return value >= minimum - Math.abs(minimum) * TOLERANCE;
}
