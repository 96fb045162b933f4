import { formatProgress } from "../../actors/work/format-progress.js";
import type { JobProgress } from "../../actors/work/job-spec.js";

/**
 * Shows job progress on stderr: a bar redrawn in place on a terminal, a plain line every `everyMs`
 * otherwise (logs, CI), and in both cases the last state when the job ends.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, everyMs = 2_000): { show(p: JobProgress): void; end(): void } {
  const bar = stream.isTTY === true;
  let lastLineAtMs = Number.NEGATIVE_INFINITY;
  let latest: JobProgress | undefined;
  let printed: JobProgress | undefined;
  return {
    show(p) {
      latest = p;
      if (bar) {
        stream.write(`\r${formatProgress(p, true)}\u001b[K`);
        printed = p;
        return;
      }
      if (Date.now() - lastLineAtMs < everyMs) return;
      lastLineAtMs = Date.now();
      stream.write(`${formatProgress(p, false)}\n`);
      printed = p;
    },
    end() {
      if (bar && printed !== undefined) stream.write("\n");
      else if (!bar && latest !== undefined && latest !== printed) stream.write(`${formatProgress(latest, false)}\n`);
    },
  };
}
