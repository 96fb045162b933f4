import type { Context, Span } from "@opentelemetry/api";
import { SPAN_KEY } from "./unsampled-context.js";

/**
 * A context that holds one span and nothing else: what a sampled message is processed under when
 * nothing else (baggage, the user's values) travels with it. The API's own `setSpan` copies the
 * parent's Map into a new context, twice per processed message (the remote parent, then the span);
 * this is one small object each. Setting or deleting a value (rare on this path) gives an ordinary
 * context built from `root`.
 */
export class SpanOnlyContext implements Context {
  constructor(
    private readonly span: Span,
    private readonly root: Context,
  ) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : this.root.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.root.setValue(SPAN_KEY, this.span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? this.root : this.root.setValue(SPAN_KEY, this.span).deleteValue(key);
  }
}
