/** `value` when it is a whole number of at least 1, or Infinity (no limit); a RangeError naming the option otherwise. */
export function positiveInteger(name: string, value: number): number {
  if (!(value >= 1) || (value !== Infinity && !Number.isInteger(value))) throw new RangeError(`${name} must be a positive integer (or Infinity); got ${value}`);
  return value;
}
