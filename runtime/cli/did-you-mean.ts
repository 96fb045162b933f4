/**
 * The candidate closest to what was typed, when it is close enough to be a likely typo: an edit
 * distance of at most 1 for short words and 2 for longer ones (a swap of two neighbouring letters
 * counts as one edit), or a prefix of at least three letters (`--sys` for `--system`).
 */
export function closest(typed: string, candidates: Iterable<string>): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate);
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined) return undefined;
  const bare = typed.replace(/^-+/, "");
  if (best.distance <= (bare.length <= 4 ? 1 : 2)) return best.candidate;
  if (bare.length >= 3) {
    const prefixed = [...candidates].filter((c) => c.replace(/^-+/, "").startsWith(bare));
    if (prefixed.length === 1) return prefixed[0];
  }
  return undefined;
}

/** "; did you mean X?" to append to an error, or "" when nothing is close. */
export function didYouMean(typed: string, candidates: Iterable<string>): string {
  const match = closest(typed, candidates);
  return match === undefined ? "" : `; did you mean ${match}?`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]![j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1);
      rows[i]![j] = d;
    }
  }
  return at(a.length, b.length);
}
