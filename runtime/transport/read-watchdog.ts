import type { Clock, TimerHandle } from "../clock.js";

/** What the watchdog needs from a connection: how much it has read, and a round trip to its server. */
export interface ReadProbe {
  /** Bytes of messages the client has read (and handed to its subscriptions) so far. */
  bytesRead(): number;
  /** Sends a PING; resolves once the server's PONG has been read. */
  ping(): Promise<unknown>;
}

/** How long a connected connection may go without reading anything, by default. */
export const DEFAULT_READ_TIMEOUT_MS = 2_000;

/**
 * Notices a connection that is up but no longer reads: in nats.js 3.x one throw inside the client's
 * read loop ends that loop, and the connection stays up, publishes, answers nothing and receives
 * nothing, for minutes (until the server's own PINGs time out). Every `timeoutMs / 4` the watchdog
 * sends a PING. Any PONG read, or any message bytes read, proves the read loop is alive; `timeoutMs`
 * with neither while connected means it is not, and `onDeaf` is called once.
 *
 * A PING rides the connection's own protocol: no subject, no permission, a few bytes. It needs no
 * help from the other nodes, and it is answered by the server the client is attached to, so a busy
 * system cannot delay it (message bytes read count as well, so a connection under a flood of
 * messages, whose PONG waits behind them, is alive). A tick that runs late means this process was
 * stalled (a long GC, a blocked event loop, SIGSTOP): the PONG may be waiting unread, so the clock
 * starts again instead of judging. While disconnected the client cannot read; the watchdog waits
 * for the reconnect.
 */
export class ReadWatchdog {
  readonly periodMs: number;
  private lastReadAt = 0;
  private lastTickAt = 0;
  private lastBytes = 0;
  private connected = true;
  private timer: TimerHandle | undefined;
  private readonly alive = (): void => {
    this.lastReadAt = this.clock.now();
  };

  constructor(
    private readonly probe: ReadProbe,
    private readonly timeoutMs: number,
    private readonly onDeaf: (silentMs: number) => void,
    private readonly clock: Clock,
  ) {
    if (!(timeoutMs > 0)) throw new RangeError(`readTimeoutMs must be a positive number of milliseconds; got ${timeoutMs}`);
    this.periodMs = timeoutMs / 4;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.lastReadAt = this.lastTickAt = this.clock.now();
    this.lastBytes = this.probe.bytesRead();
    this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The connection went down: nothing can be read until it is back. */
  disconnected(): void {
    this.connected = false;
  }

  /** The connection is back: the clock starts again. */
  reconnected(): void {
    this.connected = true;
    this.lastReadAt = this.clock.now();
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => this.tick(), this.periodMs);
  }

  private tick(): void {
    const now = this.clock.now();
    const stalled = now - this.lastTickAt > 2 * this.periodMs;
    this.lastTickAt = now;
    const bytes = this.probe.bytesRead();
    if (bytes !== this.lastBytes || stalled || !this.connected) {
      this.lastBytes = bytes;
      this.lastReadAt = now;
    }
    if (now - this.lastReadAt >= this.timeoutMs) {
      this.timer = undefined;
      this.onDeaf(now - this.lastReadAt);
      return;
    }
    // Each tick sends its own PING rather than waiting for the last one's PONG: a PING lost in a
    // reconnect must not stop the probing. When the read loop is alive the PONGs come back in a few
    // milliseconds; when it is dead they pile up in the client only until `onDeaf` closes it.
    if (this.connected) this.probe.ping().then(this.alive, noop);
    this.schedule();
  }
}

function noop(): void {}
