/**
 * Bounded retry with exponential backoff and jitter for GCS requests, as Google's guidance for GCS
 * asks: retry 429 and 5xx responses, network failures and timeouts, never anything else. A 412 (a failed
 * generation precondition) is an answer, not a failure, and is never retried here.
 */

export interface GcsRetryOptions {
  /** Attempts per request, the first included; default 6 (1 means no retry). */
  readonly maxAttempts?: number;
  /** Delay before the first retry; it doubles on each retry up to `maxDelayMs`. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** Default 5 000 ms. */
  readonly maxDelayMs?: number;
  /** Waits between attempts; tests pass one that records the delays and returns at once. */
  readonly sleep?: (delayMs: number) => Promise<void>;
  /** Uniform in [0, 1), for the jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Called before each retry with the failure that caused it and the delay about to be waited. */
  readonly onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  readonly operation: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly reason: string;
  readonly delayMs: number;
}

export const DEFAULT_GCS_RETRY = { maxAttempts: 6, initialDelayMs: 100, maxDelayMs: 5_000 } as const;

/** Error codes of connections that failed or broke: the request may be repeated. */
const NETWORK_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

/** The HTTP status of a failed GCS request (`@google-cloud/storage` puts it in `code`), if there was one. */
export function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** Why `error` is worth retrying (`"HTTP 503"`, `"ECONNRESET"`, `"timeout"`), or undefined when it is not. */
export function transientReason(error: unknown): string | undefined {
  const status = httpStatus(error);
  if (status !== undefined) return status === 429 || (status >= 500 && status <= 599) ? `HTTP ${status}` : undefined;
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) return code;
  // gaxios reports a request that outlived its timeout as a FetchError of this type, with no code.
  if ((error as { type?: unknown } | null | undefined)?.type === "request-timeout") return "timeout";
  if (error instanceof Error && /socket hang up/i.test(error.message)) return "socket hang up";
  return undefined;
}

/** The delay before retry number `retry` (1 for the first): half fixed, half random ("equal jitter"). */
export function backoffDelayMs(retry: number, options: GcsRetryOptions = {}): number {
  const initial = options.initialDelayMs ?? DEFAULT_GCS_RETRY.initialDelayMs;
  const max = options.maxDelayMs ?? DEFAULT_GCS_RETRY.maxDelayMs;
  const ceiling = Math.min(max, initial * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * (options.random ?? Math.random)());
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not transient, or has been tried
 * `maxAttempts` times; then the last error is thrown as it is.
 */
export async function withRetry<T>(operation: string, attempt: () => Promise<T>, options: GcsRetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_GCS_RETRY.maxAttempts);
  const sleep = options.sleep ?? ((delayMs: number) => new Promise<void>((resolve) => setTimeout(resolve, delayMs)));
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const reason = transientReason(error);
      if (reason === undefined || n >= maxAttempts) throw error;
      const delayMs = backoffDelayMs(n, options);
      options.onRetry?.({ operation, attempt: n, reason, delayMs });
      await sleep(delayMs);
    }
  }
}
