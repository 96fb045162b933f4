/** OTP's one_for_all: every child is restarted, for children that only make sense together. */
export function oneForAll<C>(_failed: C, children: readonly C[]): C[] {
  return [...children];
}
