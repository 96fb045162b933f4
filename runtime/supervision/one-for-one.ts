/** OTP's one_for_one: only the child that failed is restarted. */
export function oneForOne<C>(failed: C, _children: readonly C[]): C[] {
  return [failed];
}
