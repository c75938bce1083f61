/**
 * Throwaway TLS material for tests, made with the `openssl` CLI in a
 * temporary directory: a CA, a server certificate for 127.0.0.1 and
 * localhost (subjectAltName), a client certificate the CA signed (mutual
 * TLS), and a client certificate from an unrelated CA that a server must
 * refuse. EC P-256 keys, valid for two days.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertificateFiles {
  /** PEM file paths. */
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM text. */
  readonly cert: string;
  readonly key: string;
}

export interface TestCertificates {
  readonly dir: string;
  /** The CA's certificate: path and PEM text. */
  readonly caFile: string;
  readonly ca: string;
  /** Server certificate for 127.0.0.1 and localhost (plus `hosts`), signed by the CA. */
  readonly server: CertificateFiles;
  /** Client certificate (extendedKeyUsage clientAuth) signed by the CA. */
  readonly client: CertificateFiles;
  /** Client certificate signed by another CA, which the server does not trust. */
  readonly rogueClient: CertificateFiles;
  /** The other CA's certificate. */
  readonly rogueCaFile: string;
  /** Removes the directory. */
  cleanup(): void;
}

/** True when an `openssl` binary is on PATH. */
export function opensslAvailable(): boolean {
  return spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;
}

function openssl(dir: string, args: readonly string[]): void {
  const result = spawnSync("openssl", [...args], { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `openssl ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr || result.error?.message}`,
    );
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Self-signed CA certificate and key. */
function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-new",
    ...EC_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=conclave test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

/** A leaf certificate for `name`, signed by CA `ca`, with the given extensions. */
function makeLeaf(dir: string, name: string, ca: string, cn: string, extensions: string): void {
  openssl(dir, [
    "req",
    "-new",
    ...EC_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${cn}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

function files(dir: string, name: string): CertificateFiles {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
  };
}

/** Generates a CA, a server and client certificates (and a rogue client) in a new temp directory. */
export function generateCertificates(
  options: { hosts?: readonly string[] } = {},
): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "conclave-certs-"));
  try {
    makeCa(dir, "ca");
    makeCa(dir, "rogue-ca");
    const san = ["IP:127.0.0.1", "DNS:localhost", ...(options.hosts ?? []).map((h) => `DNS:${h}`)];
    makeLeaf(
      dir,
      "server",
      "ca",
      "127.0.0.1",
      `basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=${san.join(",")}
`,
    );
    const clientExt = `basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
`;
    makeLeaf(dir, "client", "ca", "conclave-client", clientExt);
    makeLeaf(dir, "rogue-client", "rogue-ca", "conclave-client", clientExt);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const caFile = join(dir, "ca.pem");
  return {
    dir,
    caFile,
    ca: readFileSync(caFile, "utf8"),
    server: files(dir, "server"),
    client: files(dir, "client"),
    rogueClient: files(dir, "rogue-client"),
    rogueCaFile: join(dir, "rogue-ca.pem"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
