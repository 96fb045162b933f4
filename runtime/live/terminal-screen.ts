const ALTERNATE_SCREEN_ON = "\x1b[?1049h";
const ALTERNATE_SCREEN_OFF = "\x1b[?1049l";
const CURSOR_HIDDEN = "\x1b[?25l";
const CURSOR_SHOWN = "\x1b[?25h";
const HOME = "\x1b[H";
const CLEAR_LINE_END = "\x1b[K";
const CLEAR_SCREEN_END = "\x1b[J";
const CTRL_C = "\x03";

/**
 * A full-screen view on a terminal, as `top` does it: the alternate screen (so the shell's screen comes
 * back untouched), no cursor, keys read one at a time. `restore()` undoes all of it; it runs once,
 * also when the process ends some other way.
 */
export class TerminalScreen {
  private restored = false;
  private readonly onExit = (): void => this.restore();
  private readonly onKey: (key: string) => void;

  constructor(
    private readonly output: NodeJS.WriteStream,
    private readonly input: NodeJS.ReadStream,
    /** Called on `q` or Ctrl-C (raw mode turns Ctrl-C into a key rather than SIGINT). */
    onQuit: () => void,
  ) {
    this.onKey = (key) => {
      if (key === "q" || key === "Q" || key === CTRL_C) onQuit();
    };
    output.write(ALTERNATE_SCREEN_ON + CURSOR_HIDDEN);
    process.once("exit", this.onExit);
    if (input.isTTY) {
      input.setRawMode(true);
      input.setEncoding("utf8");
      input.on("data", this.onKey);
      input.resume();
    }
  }

  get size(): { columns: number; rows: number } {
    return { columns: this.output.columns || 80, rows: this.output.rows || 24 };
  }

  /** Draws over the previous frame in place, line by line, without clearing first (no flicker). */
  draw(lines: readonly string[]): void {
    if (this.restored) return;
    this.output.write(HOME + lines.map((line) => line + CLEAR_LINE_END).join("\r\n") + CLEAR_SCREEN_END);
  }

  restore(): void {
    if (this.restored) return;
    this.restored = true;
    process.off("exit", this.onExit);
    if (this.input.isTTY) {
      this.input.off("data", this.onKey);
      this.input.setRawMode(false);
      this.input.pause();
    }
    // Leaving the alternate screen first: a terminal may bring back the cursor state it saved on entry.
    this.output.write(ALTERNATE_SCREEN_OFF + CURSOR_SHOWN);
  }
}
