import { generateKeyPairSync } from "node:crypto";

/**
 * A NATS nkey user made with node's own ed25519, for tests of `.creds` files without the nats tools:
 * the public key goes into the server config (`users = [{ nkey: "U..." }]`), the seed into a creds file.
 * Encoding as in nats-io/nkeys: base32 (no padding) of prefix byte(s) + key + CRC-16/XMODEM (little endian).
 */
export interface NkeyUser {
  /** "U...", for the server's `nkey:` entry. */
  readonly publicKey: string;
  /** "SU...": the secret. */
  readonly seed: string;
  /**
   * A `.creds` file body. Without an operator the server checks only the nkey signature, so the JWT
   * block holds a placeholder (nats.js's parser needs one).
   */
  readonly creds: string;
}

const PREFIX_SEED = 18 << 3;
const PREFIX_USER = 20 << 3;

export function createNkeyUser(): NkeyUser {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = (jwk: { d?: string; x?: string }, field: "d" | "x"): Buffer => Buffer.from(jwk[field]!, "base64url");
  const seedBytes = raw(privateKey.export({ format: "jwk" }), "d");
  const publicBytes = raw(publicKey.export({ format: "jwk" }), "x");
  const publicKeyText = encode(Uint8Array.of(PREFIX_USER), publicBytes);
  const seed = encode(Uint8Array.of(PREFIX_SEED | (PREFIX_USER >> 5), (PREFIX_USER & 31) << 3), seedBytes);
  const creds = [
    "-----BEGIN NATS USER JWT-----",
    "no-operator",
    "------END NATS USER JWT------",
    "",
    "-----BEGIN USER NKEY SEED-----",
    seed,
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
  return { publicKey: publicKeyText, seed, creds };
}

function encode(prefix: Uint8Array, key: Uint8Array): string {
  const body = Buffer.concat([prefix, key]);
  const crc = crc16(body);
  return base32(Buffer.concat([body, Uint8Array.of(crc & 0xff, crc >> 8)]));
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32(bytes: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
