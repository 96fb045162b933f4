/**
 * The corpus: text generated deterministically from a seed, so every run (and every machine) counts
 * the same words. Words come from a fixed vocabulary with a skewed (Zipf-like) frequency, in lines of
 * varied length with punctuation and mixed case, so that tokenising matters.
 */
const VOCABULARY = (
  "the of and to in is was he for it with as his on be at by had are but from or have an they which one you were all her she there would " +
  "their we him been has when who will no more if out so up said what its about than into them can only other time new some could these " +
  "two may first then do any like my now over such our man me even most made after also did many off before must well back through years " +
  "much where your way down should because long each just state people too little state very make world still own see men work life"
).split(" ");

/** mulberry32: a tiny seeded PRNG, enough for reproducible text. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Chunk `index` of the corpus: `lines` lines of text. */
export function chunkText(index: number, lines = 40): string {
  const next = random(0x7e0_0000 + index);
  const out: string[] = [];
  for (let line = 0; line < lines; line++) {
    const words: string[] = [];
    const length = 4 + Math.floor(next() * 12);
    for (let w = 0; w < length; w++) {
      // Zipf-ish: small indices far more often.
      let word = VOCABULARY[Math.floor(VOCABULARY.length * next() ** 2.5)]!;
      if (w === 0 || next() < 0.03) word = word[0]!.toUpperCase() + word.slice(1);
      words.push(word);
    }
    out.push(`${words.join(next() < 0.2 ? ", " : " ")}${next() < 0.5 ? "." : next() < 0.5 ? "!" : "?"}`);
  }
  return out.join("\n");
}

/** Lower-cased words: letters and apostrophes, everything else separates. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z']+/g) ?? [];
}
