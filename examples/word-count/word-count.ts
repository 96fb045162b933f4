import { defineReducer, defineWorker } from "../../runtime/index.js";
import { troupe } from "./gen/messages.js";
import { words } from "./corpus.js";

export const { Chunk, WordCounts } = troupe.examples.wordcount;
export type WordCounts = troupe.examples.wordcount.WordCounts;

/** Map: counts the words of one chunk. */
export const wordCounter = defineWorker({
  kind: "word-counter",
  task: Chunk,
  result: WordCounts,
  run: (chunk) => {
    const counts: Record<string, number> = {};
    for (const word of words(chunk.text)) counts[word] = (counts[word] ?? 0) + 1;
    return WordCounts.create({ counts });
  },
});

/** Reduce: adds a chunk's counts to the totals. */
export const wordTotals = defineReducer({
  state: WordCounts,
  result: WordCounts,
  initial: () => WordCounts.create({ counts: {} }),
  merge: (totals, chunk) => {
    const counts = { ...totals.counts };
    for (const [word, n] of Object.entries(chunk.counts)) counts[word] = (counts[word] ?? 0) + n;
    return WordCounts.create({ counts });
  },
});
