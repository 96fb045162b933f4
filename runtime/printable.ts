/**
 * Text from the wire (node ids, kinds, paths, error messages, span names) made safe for a terminal or a
 * log line: control characters (C0 including newline and ESC, DEL, C1) and the bidirectional overrides
 * that could rewrite what an operator sees become visible escapes, so a crafted name can neither move
 * the cursor, recolour the screen nor forge a second line.
 */
export function printable(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escapeOne) : text;
}

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(char: string): string {
  const code = char.charCodeAt(0);
  if (char === "\n") return "\\n";
  if (char === "\r") return "\\r";
  if (char === "\t") return "\\t";
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}
