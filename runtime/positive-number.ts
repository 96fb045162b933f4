/** `value` when it is greater than 0 (Infinity included); a RangeError naming the option otherwise (NaN too). */
export function positiveNumber(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be a positive number; got ${value}`);
  return value;
}
