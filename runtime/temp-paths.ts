import { createCipheriv, createDecipheriv, randomBytes, type Cipher, type Decipher } from "node:crypto";

export const TEMP_PREFIX = "/temp/";

/** Paths minted at a time: one cipher call and one hex encoding serve this many asks. */
const BATCH = 256;
const BLOCK = 16;
const TOKEN_CHARS = 2 * BLOCK;
const PATH_CHARS = TEMP_PREFIX.length + TOKEN_CHARS;
const SHAPE = /^[0-9a-f]{32}$/;

/**
 * The temporary paths of one node's asks, `/temp/<32 hex digits>`: the ask's sequence number
 * encrypted with AES-128 under a key drawn for this node. A block cipher is a permutation that looks
 * random without the key, so a path tells nothing about the next one or the key: hitting a pending
 * ask means guessing 128 random bits. Decrypting a path tells whether this node ever issued it (a
 * plaintext is the number followed by eight zero bytes; anything else is someone's invention).
 *
 * ECB is right here, and only here: every block is a distinct counter, so no two plaintexts repeat.
 *
 * Cost matters, as every ask pays it: paths are minted in batches, back to back in one flat string,
 * so an ask costs a slice (no copy, nothing to flatten before hashing or encoding). The frame reader
 * decodes the 38 ASCII bytes of a path with one native latin1 slice (InternedStrings.decode).
 */
export class TempPaths {
  private readonly cipher: Cipher;
  private readonly decipher: Decipher;
  private readonly plain = Buffer.alloc(BATCH * BLOCK);
  /** `plain` as 32-bit words, in the machine's byte order (the same for minting and checking). */
  private readonly words = new Uint32Array(this.plain.buffer, this.plain.byteOffset, (BATCH * BLOCK) / 4);
  /** The batch's paths, back to back. */
  private paths = "";
  private next = BATCH;
  /** Paths issued so far; the last one's number. */
  private issuedCount = 0;

  constructor() {
    const key = randomBytes(16);
    this.cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
    this.decipher = createDecipheriv("aes-128-ecb", key, null).setAutoPadding(false);
  }

  /** A new path, never issued before by this node. */
  mint(): string {
    if (this.next === BATCH) this.refill();
    const at = this.next++ * PATH_CHARS;
    this.issuedCount++;
    return this.paths.slice(at, at + PATH_CHARS);
  }

  /** Whether `path` is one this node minted (and handed out), whatever became of its ask since. */
  wasIssued(path: string): boolean {
    const token = path.slice(TEMP_PREFIX.length);
    if (!path.startsWith(TEMP_PREFIX) || !SHAPE.test(token)) return false;
    const block = this.decipher.update(Buffer.from(token, "hex"));
    if (block.length !== BLOCK) return false;
    const words = new Uint32Array(block.buffer.slice(block.byteOffset, block.byteOffset + BLOCK));
    if (words[2] !== 0 || words[3] !== 0) return false;
    const n = words[0]! + words[1]! * 2 ** 32;
    return n >= 1 && n <= this.issuedCount;
  }

  private refill(): void {
    // Numbers issuedCount + 1 ... issuedCount + BATCH: low word, high word, then eight zero bytes.
    const words = this.words;
    for (let i = 0; i < BATCH; i++) {
      const n = this.issuedCount + i + 1;
      words[i * 4] = n >>> 0;
      words[i * 4 + 1] = Math.floor(n / 2 ** 32);
    }
    const hex = this.cipher.update(this.plain).toString("hex");
    const parts: string[] = [];
    for (let i = 0; i < BATCH; i++) parts.push(TEMP_PREFIX, hex.slice(i * TOKEN_CHARS, (i + 1) * TOKEN_CHARS));
    this.paths = parts.join("");
    this.next = 0;
  }
}
