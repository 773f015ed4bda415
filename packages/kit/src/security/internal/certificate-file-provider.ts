import { createPrivateKey, X509Certificate } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { experimental } from "@grpc/grpc-js";
import { TlsConfigError } from "../tls-config-error.js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Options for {@link createCertificateFileProvider}. */
export interface CertificateFileProviderOptions {
  /** PEM certificate chain of this process (server certificate, or client certificate for mTLS). */
  readonly certFile?: string | undefined;
  /** PEM private key matching `certFile`. */
  readonly keyFile?: string | undefined;
  /** PEM bundle of CA certificates to trust for the peer. */
  readonly caFile?: string | undefined;
  /**
   * Safety-net re-read period in ms (default 30 000). Changes are normally seen at once through
   * a watch on the files' folders; polling covers file systems where watching is unreliable.
   */
  readonly refreshIntervalMs?: number;
  /** Where reloads and rejected files are reported. */
  readonly log?: { info(object: object, message: string): void; warn(object: object, message: string): void };
}

/** What the provider currently serves. */
export interface CertificateFileSnapshot {
  readonly certificate: Buffer | undefined;
  readonly privateKey: Buffer | undefined;
  readonly caCertificate: Buffer | undefined;
  /** Serial number (hex) of the leaf certificate, when there is one. */
  readonly serialNumber: string | undefined;
}

/**
 * A grpc-js certificate provider backed by PEM files that are re-read when they change, so a
 * server (or channel) picks up a rotated certificate for new connections without a restart;
 * connections already open keep their session. Unlike grpc-js' own FileWatcherCertificateProvider
 * it reads the files once up front (a bad path fails at start with a clear error), checks that
 * the key matches the certificate before switching, and keeps serving the last good pair while
 * the files are half-written or broken instead of refusing every new connection.
 */
export interface CertificateFileProvider extends experimental.CertificateProvider {
  /** Re-reads the files now; resolves true when a new, valid set was loaded. */
  reload(): Promise<boolean>;
  /** The set currently served. */
  snapshot(): CertificateFileSnapshot;
}

interface Loaded {
  readonly certificate: Buffer | undefined;
  readonly privateKey: Buffer | undefined;
  readonly caCertificate: Buffer | undefined;
  readonly serialNumber: string | undefined;
  readonly notAfter: string | undefined;
}

function validate(
  files: CertificateFileProviderOptions,
  certificate?: Buffer,
  privateKey?: Buffer,
  ca?: Buffer,
): Loaded {
  let serialNumber: string | undefined;
  let notAfter: string | undefined;
  if (certificate !== undefined && privateKey !== undefined) {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certificate);
    } catch (error) {
      throw new TlsConfigError(`${files.certFile} is not a PEM certificate`, { cause: error });
    }
    let key: ReturnType<typeof createPrivateKey>;
    try {
      key = createPrivateKey(privateKey);
    } catch (error) {
      throw new TlsConfigError(`${files.keyFile} is not a PEM private key (encrypted keys are not supported)`, {
        cause: error,
      });
    }
    if (!leaf.checkPrivateKey(key)) {
      throw new TlsConfigError(`${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
    }
    serialNumber = leaf.serialNumber;
    notAfter = leaf.validTo;
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new TlsConfigError(`${files.caFile} is not a PEM certificate bundle`, { cause: error });
    }
  }
  return { certificate, privateKey, caCertificate: ca, serialNumber, notAfter };
}

function readSync(file: string | undefined, what: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TlsConfigError(`Cannot read ${what} ${file}: ${code ?? String(error)}`, { cause: error });
  }
}

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.equals(b);
}

/**
 * Creates a {@link CertificateFileProvider}. Throws {@link TlsConfigError} when a file is
 * missing or invalid, or when the key does not match the certificate.
 */
export function createCertificateFileProvider(options: CertificateFileProviderOptions): CertificateFileProvider {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new TlsConfigError("A certificate file and its key file must be given together");
  }
  if (options.certFile === undefined && options.caFile === undefined) {
    throw new TlsConfigError("At least a certificate/key pair or a CA file is needed");
  }
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
  let current = validate(
    options,
    readSync(options.certFile, "certificate file"),
    readSync(options.keyFile, "private key file"),
    readSync(options.caFile, "CA file"),
  );
  const caListeners = new Set<CaListener>();
  const identityListeners = new Set<IdentityListener>();
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let inFlight: Promise<boolean> | undefined;

  const identityUpdate = (): experimental.IdentityCertificateUpdate | null =>
    current.certificate && current.privateKey
      ? { certificate: current.certificate, privateKey: current.privateKey }
      : null;
  const caUpdate = (): experimental.CaCertificateUpdate | null =>
    current.caCertificate ? { caCertificate: current.caCertificate } : null;

  const readAll = async (): Promise<boolean> => {
    let next: Loaded;
    try {
      const [certificate, privateKey, ca] = await Promise.all([
        options.certFile === undefined ? undefined : readFile(options.certFile),
        options.keyFile === undefined ? undefined : readFile(options.keyFile),
        options.caFile === undefined ? undefined : readFile(options.caFile),
      ]);
      if (
        same(certificate, current.certificate) &&
        same(privateKey, current.privateKey) &&
        same(ca, current.caCertificate)
      ) {
        return false;
      }
      next = validate(options, certificate, privateKey, ca);
    } catch (error) {
      // Mid-rotation files (new certificate, old key) land here; the next change event or poll retries.
      options.log?.warn(
        { err: error instanceof Error ? error.message : String(error) },
        "TLS files changed but cannot be used yet; still serving the previous certificate",
      );
      return false;
    }
    const identityChanged = !same(next.certificate, current.certificate) || !same(next.privateKey, current.privateKey);
    const caChanged = !same(next.caCertificate, current.caCertificate);
    current = next;
    options.log?.info(
      { serial: next.serialNumber, not_after: next.notAfter, cert_file: options.certFile, ca_file: options.caFile },
      "TLS certificates reloaded",
    );
    if (identityChanged) for (const listener of identityListeners) listener(identityUpdate());
    if (caChanged) for (const listener of caListeners) listener(caUpdate());
    return true;
  };

  const reload = (): Promise<boolean> => {
    inFlight ??= readAll().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const onChange = (): void => {
    // Writers touch the cert and key separately; wait for the burst to settle.
    clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), 100);
    debounce.unref();
  };

  const startWatching = (): void => {
    if (timer !== undefined) return;
    timer = setInterval(() => void reload(), refreshIntervalMs);
    timer.unref();
    const files = [options.certFile, options.keyFile, options.caFile].filter((f): f is string => f !== undefined);
    // Watch folders, not files: rotation by rename (and Kubernetes' symlink swap) replaces the inode.
    for (const folder of new Set(files.map((f) => dirname(f)))) {
      const names = new Set(files.filter((f) => dirname(f) === folder).map((f) => basename(f)));
      try {
        const watcher = watch(folder, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name)) || String(name).startsWith("..")) onChange();
        });
        watcher.on("error", () => {});
        watchers.push(watcher);
      } catch {
        // Polling alone still picks up changes.
      }
    }
  };

  const stopWatchingIfIdle = (): void => {
    if (caListeners.size > 0 || identityListeners.size > 0) return;
    clearInterval(timer);
    clearTimeout(debounce);
    timer = undefined;
    for (const watcher of watchers) watcher.close();
    watchers = [];
  };

  return {
    addCaCertificateListener(listener: CaListener): void {
      caListeners.add(listener);
      startWatching();
      // Asynchronously, as grpc-js expects: its server credentials register their context
      // watcher right after adding this listener.
      process.nextTick(() => {
        if (caListeners.has(listener)) listener(caUpdate());
      });
    },
    removeCaCertificateListener(listener: CaListener): void {
      caListeners.delete(listener);
      stopWatchingIfIdle();
    },
    addIdentityCertificateListener(listener: IdentityListener): void {
      identityListeners.add(listener);
      startWatching();
      process.nextTick(() => {
        if (identityListeners.has(listener)) listener(identityUpdate());
      });
    },
    removeIdentityCertificateListener(listener: IdentityListener): void {
      identityListeners.delete(listener);
      stopWatchingIfIdle();
    },
    reload,
    snapshot(): CertificateFileSnapshot {
      return {
        certificate: current.certificate,
        privateKey: current.privateKey,
        caCertificate: current.caCertificate,
        serialNumber: current.serialNumber,
      };
    },
  };
}
