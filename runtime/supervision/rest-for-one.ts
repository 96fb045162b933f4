/** OTP's rest_for_one: the failed child and every child started after it (they may depend on it). */
export function restForOne<C>(failed: C, children: readonly C[]): C[] {
  const at = children.indexOf(failed);
  return at < 0 ? [failed] : children.slice(at);
}
