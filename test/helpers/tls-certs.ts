import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  readonly dir: string;
  /** The CA certificate clients trust (PEM). */
  readonly caFile: string;
  /** The server's certificate (PEM), for 127.0.0.1 and localhost, signed by the CA. */
  readonly certFile: string;
  readonly keyFile: string;
  /** A CA nobody trusts, for "wrong CA" cases. */
  readonly otherCaFile: string;
  /** Deletes the directory. */
  remove(): void;
}

const OPENSSL = ["/usr/bin/openssl", "/bin/openssl", "/usr/local/bin/openssl"].find((p) => existsSync(p));

/**
 * Generates a throwaway CA and a server certificate for 127.0.0.1/localhost with the `openssl` CLI
 * (EC P-256, valid one day) in a fresh temporary directory. Throws when openssl is missing.
 */
export function generateTestCertificates(): TestCertificates {
  if (!OPENSSL) throw new Error("openssl not found (looked in /usr/bin, /bin, /usr/local/bin): it generates the test certificates");
  const dir = mkdtempSync(join(tmpdir(), "troupe-tls-"));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync(OPENSSL, args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  for (const ca of ["ca", "other-ca"]) {
    openssl("req", "-x509", ...ec, "-keyout", file(`${ca}.key`), "-out", file(`${ca}.pem`), "-days", "1", "-subj", `/CN=troupe test ${ca}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }
  openssl("req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-out", file("server.pem"), "-days", "1", "-extfile", file("server.ext"));

  return {
    dir,
    caFile: file("ca.pem"),
    certFile: file("server.pem"),
    keyFile: file("server.key"),
    otherCaFile: file("other-ca.pem"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
