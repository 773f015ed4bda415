import { execFile } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEFAULT_TRUST_DOMAIN, spiffeId } from "../security/peer-identity.js";

const run = promisify(execFile);

/**
 * Development certificates made with the `openssl` command line (as in the tutorial), with
 * ECDSA P-256 keys: small, fast to generate, and accepted by grpc-js, grpcio and browsers.
 * For production use your platform's PKI (cert-manager, a mesh, Vault); nothing here is meant
 * to guard real secrets (keys are unencrypted files).
 */

/** A certificate authority on disk. */
export interface CertificateAuthority {
  /** PEM certificate (share this; clients and servers trust it). */
  readonly certFile: string;
  /** PEM private key (keep it apart; services never need it). */
  readonly keyFile: string;
}

/** What a leaf certificate is for. */
export type CertificateUsage = "server" | "client" | "server-and-client";

/** Options for {@link issueCertificate}. */
export interface IssueCertificateOptions {
  readonly ca: CertificateAuthority;
  /** Where to write the PEM certificate. */
  readonly certFile: string;
  /** Where to write the PEM private key (mode 0600). */
  readonly keyFile: string;
  readonly commonName: string;
  /** DNS names and IP addresses for the subjectAltName extension. */
  readonly hosts?: readonly string[];
  /** URIs for the subjectAltName extension, e.g. `spiffe://online-books/marketplace`. */
  readonly uris?: readonly string[];
  readonly usage: CertificateUsage;
  /** Start of validity (default: one minute ago, to tolerate small clock skew). */
  readonly notBefore?: Date;
  /** End of validity (default: `notBefore` + 90 days). */
  readonly notAfter?: Date;
}

/** A freshly issued certificate. */
export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** Serial number in upper-case hex, as `X509Certificate.serialNumber` shows it. */
  readonly serialNumber: string;
  readonly notAfter: Date;
}

/** Thrown when the `openssl` command is missing or fails. */
export class OpenSslError extends Error {
  override readonly name = "OpenSslError";
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run("openssl", args, { timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    const detail = typeof stderr === "string" && stderr.trim() !== "" ? stderr.trim() : String(error);
    throw new OpenSslError(`openssl ${args[0] ?? ""} failed: ${detail}`, { cause: error });
  }
}

async function generateKey(keyFile: string): Promise<void> {
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile]);
  await chmod(keyFile, 0o600);
}

/** OpenSSL's GeneralizedTime form, e.g. `20250102030405Z`. */
function asn1Time(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
}

function configValue(value: string): string {
  if (!/^[A-Za-z0-9._:/*@+= -]+$/.test(value) || value.trim() !== value) {
    throw new Error(`Unsupported character in certificate name ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Creates a self-signed CA (10 years) at `certFile`/`keyFile`. Overwrites whatever is there:
 * callers decide whether that is allowed (the `certs` script refuses without `--force`).
 */
export async function createCertificateAuthority(options: {
  certFile: string;
  keyFile: string;
  commonName?: string;
  days?: number;
}): Promise<CertificateAuthority> {
  const work = await mkdtemp(join(tmpdir(), "obfy-ca-"));
  try {
    const config = join(work, "ca.cnf");
    await writeFile(
      config,
      [
        "[req]",
        "prompt = no",
        "distinguished_name = dn",
        "x509_extensions = v3_ca",
        "[dn]",
        `CN = ${configValue(options.commonName ?? "Online Books For You development CA")}`,
        "[v3_ca]",
        "basicConstraints = critical, CA:TRUE, pathlen:0",
        "keyUsage = critical, keyCertSign, cRLSign",
        "subjectKeyIdentifier = hash",
        "",
      ].join("\n"),
    );
    await generateKey(options.keyFile);
    await openssl([
      "req",
      "-x509",
      "-new",
      "-config",
      config,
      "-key",
      options.keyFile,
      "-sha256",
      "-days",
      String(options.days ?? 3650),
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-out",
      options.certFile,
    ]);
    return { certFile: options.certFile, keyFile: options.keyFile };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const EXTENDED_KEY_USAGE: Readonly<Record<CertificateUsage, string>> = {
  server: "serverAuth",
  client: "clientAuth",
  "server-and-client": "serverAuth, clientAuth",
};

/**
 * Issues a leaf certificate signed by `ca`, with a random serial number and the given validity
 * window (which may lie entirely in the past: tests use that for expired certificates).
 * The key and certificate are written to temporary names first and renamed into place, so a
 * process watching the files never reads a half-written pair.
 */
export async function issueCertificate(options: IssueCertificateOptions): Promise<IssuedCertificate> {
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 90 * 24 * 3600 * 1000);
  const work = await mkdtemp(join(tmpdir(), "obfy-cert-"));
  try {
    const sans = [
      ...(options.hosts ?? []).map((host) => `${isIP(host) ? "IP" : "DNS"}:${configValue(host)}`),
      ...(options.uris ?? []).map((uri) => `URI:${configValue(uri)}`),
    ];
    const config = join(work, "ca.cnf");
    await writeFile(join(work, "index.txt"), "");
    // A random 128-bit serial (first bit clear: serials must be positive).
    const serial = randomBytes(16);
    serial[0] = (serial[0] ?? 0) & 0x7f;
    await writeFile(join(work, "serial"), `${serial.toString("hex")}\n`);
    await writeFile(
      config,
      [
        "[ca]",
        "default_ca = dev_ca",
        "[dev_ca]",
        `database = ${join(work, "index.txt")}`,
        `new_certs_dir = ${work}`,
        `serial = ${join(work, "serial")}`,
        "default_md = sha256",
        "policy = policy_any",
        "unique_subject = no",
        "copy_extensions = none",
        "[policy_any]",
        "commonName = supplied",
        "[req]",
        "prompt = no",
        "distinguished_name = dn",
        "[dn]",
        `CN = ${configValue(options.commonName)}`,
        "[leaf]",
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature, keyAgreement",
        `extendedKeyUsage = ${EXTENDED_KEY_USAGE[options.usage]}`,
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid, issuer",
        ...(sans.length > 0 ? [`subjectAltName = ${sans.join(", ")}`] : []),
        "",
      ].join("\n"),
    );
    const key = join(work, "leaf.key");
    const csr = join(work, "leaf.csr");
    const cert = join(work, "leaf.pem");
    await generateKey(key);
    await openssl(["req", "-new", "-config", config, "-key", key, "-out", csr]);
    await openssl([
      "ca",
      "-batch",
      "-notext",
      "-config",
      config,
      "-extensions",
      "leaf",
      "-cert",
      options.ca.certFile,
      "-keyfile",
      options.ca.keyFile,
      "-startdate",
      asn1Time(notBefore),
      "-enddate",
      asn1Time(notAfter),
      "-in",
      csr,
      "-out",
      cert,
    ]);
    const pem = await readFile(cert);
    const parsed = new X509Certificate(pem);
    await writeFile(`${options.keyFile}.tmp`, await readFile(key), { mode: 0o600 });
    await writeFile(`${options.certFile}.tmp`, pem);
    // Key first: a watcher that sees the new certificate must also find its key.
    await rename(`${options.keyFile}.tmp`, options.keyFile);
    await rename(`${options.certFile}.tmp`, options.certFile);
    return {
      certFile: options.certFile,
      keyFile: options.keyFile,
      serialNumber: parsed.serialNumber,
      notAfter: new Date(parsed.validTo),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Options for {@link createDevCertificates}. */
export interface DevCertificatesOptions {
  /** Output folder (`certs/` in the repo by default; `CERTS_DIR` overrides in the script). */
  readonly dir: string;
  /** Kubernetes namespace for the server's service DNS names (default `online-books`). */
  readonly namespace?: string;
  /** SPIFFE trust domain for client identities (default `online-books`). */
  readonly trustDomain?: string;
  /** Replace the CA (and so every certificate) even if one exists. */
  readonly force?: boolean;
  /** Re-issue the leaf certificates even if they are still good (e.g. to try rotation). */
  readonly renew?: boolean;
  /** Re-issue leaf certificates expiring within this many days (default 30). */
  readonly renewWithinDays?: number;
  /** Progress lines for a human. */
  readonly log?: (line: string) => void;
}

/** What {@link createDevCertificates} produced. */
export interface DevCertificates {
  readonly ca: CertificateAuthority;
  readonly server: { readonly certFile: string; readonly keyFile: string };
  readonly client: { readonly certFile: string; readonly keyFile: string };
}

async function readCertificate(file: string): Promise<X509Certificate | undefined> {
  try {
    return new X509Certificate(await readFile(file));
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await readFile(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates (or tops up) the development PKI: `ca.pem` (+ `ca/ca.key`, kept apart),
 * `recommendations.pem/.key` (server) and `marketplace.pem/.key` (client, identity
 * `spiffe://<trustDomain>/marketplace`, CN `marketplace`). Idempotent: an existing CA is kept
 * unless `force`; leaf certificates are kept while they are signed by that CA and valid for
 * more than `renewWithinDays`.
 */
export async function createDevCertificates(options: DevCertificatesOptions): Promise<DevCertificates> {
  const log = options.log ?? (() => {});
  const namespace = options.namespace ?? "online-books";
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const renewWithinMs = (options.renewWithinDays ?? 30) * 24 * 3600 * 1000;
  await mkdir(options.dir, { recursive: true });
  await mkdir(join(options.dir, "ca"), { recursive: true, mode: 0o700 });
  const ca: CertificateAuthority = {
    certFile: join(options.dir, "ca.pem"),
    keyFile: join(options.dir, "ca", "ca.key"),
  };

  const haveCa = (await exists(ca.certFile)) && (await exists(ca.keyFile));
  if (haveCa && !options.force) {
    log(`CA: keeping ${ca.certFile} (use --force to replace it and every certificate it signed)`);
  } else {
    await createCertificateAuthority(ca);
    log(`CA: created ${ca.certFile} (private key ${ca.keyFile}: never give it to a service)`);
  }
  const caCert = new X509Certificate(await readFile(ca.certFile));

  const leaves: Array<Omit<IssueCertificateOptions, "ca"> & { label: string }> = [
    {
      label: "recommendations (server)",
      certFile: join(options.dir, "recommendations.pem"),
      keyFile: join(options.dir, "recommendations.key"),
      commonName: "recommendations",
      hosts: [
        "recommendations",
        `recommendations.${namespace}`,
        `recommendations.${namespace}.svc`,
        `recommendations.${namespace}.svc.cluster.local`,
        "localhost",
        "127.0.0.1",
        "::1",
      ],
      uris: [spiffeId("recommendations", trustDomain)],
      usage: "server",
    },
    {
      label: "marketplace (client)",
      certFile: join(options.dir, "marketplace.pem"),
      keyFile: join(options.dir, "marketplace.key"),
      commonName: "marketplace",
      uris: [spiffeId("marketplace", trustDomain)],
      usage: "client",
    },
  ];
  const rebuildAll = !haveCa || options.force === true;
  for (const { label, ...leaf } of leaves) {
    const current = rebuildAll ? undefined : await readCertificate(leaf.certFile);
    const keyPresent = await exists(leaf.keyFile);
    const stillGood =
      current !== undefined &&
      keyPresent &&
      current.verify(caCert.publicKey) &&
      new Date(current.validTo).getTime() - Date.now() > renewWithinMs;
    if (stillGood && !options.renew) {
      log(`${label}: keeping ${leaf.certFile} (valid until ${current.validTo})`);
      continue;
    }
    const issued = await issueCertificate({ ...leaf, ca });
    log(
      `${label}: issued ${issued.certFile} serial ${issued.serialNumber}, valid until ${issued.notAfter.toISOString()}`,
    );
  }
  return {
    ca,
    server: { certFile: join(options.dir, "recommendations.pem"), keyFile: join(options.dir, "recommendations.key") },
    client: { certFile: join(options.dir, "marketplace.pem"), keyFile: join(options.dir, "marketplace.key") },
  };
}
