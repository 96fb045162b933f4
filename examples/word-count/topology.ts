// Map-reduce over a deterministic corpus: workers count the words of each chunk, a reducer adds the
// counts up in the state store, and the run checks the stored totals against a plain count.
import { defineTopology, openStateStore, runJob, type JobTask } from "../../runtime/index.js";
import { troupe } from "../../proto/gen/troupe.js";
import { chunkText, words } from "./corpus.js";
import { Chunk, WordCounts, wordCounter, wordTotals } from "./word-count.js";

const CHUNKS = 200;

function* chunks(): Generator<JobTask<InstanceType<typeof Chunk>>> {
  for (let index = 0; index < CHUNKS; index++) yield { id: `chunk-${index}`, payload: Chunk.create({ index, text: chunkText(index) }) };
}

/** The expectation, computed without actors, the network or the store. */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let index = 0; index < CHUNKS; index++) for (const word of words(chunkText(index))) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

export default defineTopology({
  name: "word-count",
  description: "map-reduce word count over a generated corpus, totals kept in the state store",
  types: [Chunk, WordCounts],
  kinds: [wordCounter],

  async main({ system, workers, state, log, progress }) {
    const store = openStateStore(state);
    const key = `word-count/${system.name}`;
    try {
      const reducer = system.spawn(wordTotals, { name: "totals", props: { store, key } });
      const result = await runJob(system, { id: system.name, tasks: chunks, total: CHUNKS, taskType: Chunk, worker: wordCounter, reducer, workers: workers.length, onProgress: progress });
      await system.stop(reducer);

      // Read the totals back from the store (a fresh reducer loads the last checkpoint) and compare.
      const reader = system.spawn(wordTotals, { name: "reader", props: { store, key } });
      const stored = WordCounts.decode((await reader.ask(troupe.work.ReducerStateRequest.create(), troupe.work.ReducerState)).state).counts;
      await system.stop(reader);
      const expected = expectedCounts();
      const mismatches = [...new Set([...expected.keys(), ...Object.keys(stored)])].filter((w) => (stored[w] ?? 0) !== (expected.get(w) ?? 0));
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      if (mismatches.length > 0) log(`mismatched words: ${mismatches.slice(0, 10).join(", ")}`);
      const top = Object.entries(stored).sort((a, b) => b[1] - a[1]).slice(0, 5);
      return {
        tasks: result.done,
        state: `${store.description} ${key}`,
        verified: mismatches.length === 0 && result.failed === 0,
        summary: [`${total} words, ${Object.keys(stored).length} distinct; most frequent: ${top.map(([w, n]) => `${w} ${n}`).join(", ")}`],
        details: { words: total, distinct: Object.keys(stored).length, mismatches: mismatches.length, retried: result.retried },
      };
    } finally {
      await store.close();
    }
  },
});
