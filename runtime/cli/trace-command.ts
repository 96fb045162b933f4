import { writeFileSync } from "node:fs";
import { loadTrace, readSpans, traceIds } from "../tracing/trace-file.js";
import { traceHtml } from "../tracing/trace-html.js";
import { formatTraceTree } from "../tracing/trace-tree.js";
import { parseOptions } from "./parse-options.js";
import { VERBS } from "./usage.js";

/**
 * `troupe trace FILE [--trace-id ID] [--all] [--html OUT]`: prints one trace of a trace file as a tree
 * (the run's by default: the trace with the most spans), or writes it as a self-contained HTML page.
 */
export function traceCommand(args: string[]): number {
  const parsed = parseOptions(VERBS.trace, args);
  if (parsed === undefined) return 0;
  const { values, positionals } = parsed;
  const file = positionals[0]!;
  const spans = readSpans(file, (line, error) => console.error(`troupe trace: ${file}:${line} is not a span (${error}); skipped`));
  const trace = loadTrace(spans, values["trace-id"]);
  const others = traceIds(spans).filter((t) => t.traceId !== trace.traceId);
  if (values.html) {
    writeFileSync(values.html, traceHtml(trace, `Troupe trace of ${file}`));
    console.log(`wrote ${values.html}: trace ${trace.traceId}, ${trace.spans.length} spans`);
  } else {
    console.log(formatTraceTree(trace, { all: values.all }));
  }
  if (others.length > 0 && values["trace-id"] === undefined) {
    console.error(`(${others.length} other traces in the file, e.g. ${others.slice(0, 3).map((t) => `${t.traceId} (${t.spans} spans)`).join(", ")}; pick one with --trace-id)`);
  }
  return 0;
}
