import {
  ChannelCredentials,
  experimental,
  type ServerInterceptor as GrpcServerInterceptor,
  ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
} from "@grpc/grpc-js";
import { envInt } from "../config.js";
import {
  type CertificateFileProvider,
  type CertificateFileProviderOptions,
  createCertificateFileProvider,
} from "./internal/certificate-file-provider.js";
import { TlsConfigError } from "./tls-config-error.js";

/**
 * Transport security, configured by the same variables on both sides of a connection:
 *
 * | variable | meaning |
 * | --- | --- |
 * | `TLS_MODE` | `off` (default, plaintext), `tls` (server authenticated), `mtls` (both sides authenticated) |
 * | `TLS_CERT_FILE` / `TLS_KEY_FILE` | this process's certificate chain and key (server: required for `tls` and `mtls`; client: required for `mtls`) |
 * | `TLS_CA_FILE` | CA bundle to verify the peer (required for `mtls` on both sides; for a `tls` client it defaults to the system roots) |
 * | `TLS_RELOAD_INTERVAL_MS` | safety-net re-read period of the files (default 30000); changes are normally seen at once |
 */
export type TlsMode = "off" | "tls" | "mtls";

/** Settings read by {@link readTlsConfig}. */
export interface TlsConfig {
  readonly mode: TlsMode;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly caFile?: string | undefined;
  readonly reloadIntervalMs: number;
}

/** Which end of the connection the configuration is for: the variables required differ. */
export type TlsRole = "server" | "client";

const MODES: readonly TlsMode[] = ["off", "tls", "mtls"];

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Reads and checks the TLS variables for a server or a client. Throws {@link TlsConfigError}
 * naming the variable to fix, e.g. `TLS_MODE=mtls requires TLS_CA_FILE`.
 */
export function readTlsConfig(env: NodeJS.ProcessEnv = process.env, role: TlsRole = "server"): TlsConfig {
  const rawMode = (optional(env, "TLS_MODE") ?? "off").toLowerCase();
  if (!(MODES as readonly string[]).includes(rawMode)) {
    throw new TlsConfigError(`TLS_MODE must be one of off, tls, mtls; got ${JSON.stringify(env.TLS_MODE)}`);
  }
  const mode = rawMode as TlsMode;
  const config: TlsConfig = {
    mode,
    certFile: optional(env, "TLS_CERT_FILE"),
    keyFile: optional(env, "TLS_KEY_FILE"),
    caFile: optional(env, "TLS_CA_FILE"),
    reloadIntervalMs: envInt(env, "TLS_RELOAD_INTERVAL_MS", 30_000, { min: 100 }),
  };
  checkTlsConfig(config, role);
  return config;
}

function checkTlsConfig(config: TlsConfig, role: TlsRole): void {
  if (config.mode === "off") return;
  const needIdentity = role === "server" || config.mode === "mtls";
  const why = role === "server" ? "(this server's certificate)" : "(this client's certificate for mutual TLS)";
  if (needIdentity && !config.certFile) {
    throw new TlsConfigError(`TLS_MODE=${config.mode} requires TLS_CERT_FILE ${why}`);
  }
  if (needIdentity && !config.keyFile) {
    throw new TlsConfigError(`TLS_MODE=${config.mode} requires TLS_KEY_FILE (the key of TLS_CERT_FILE)`);
  }
  if (config.mode === "mtls" && !config.caFile) {
    throw new TlsConfigError(
      role === "server"
        ? "TLS_MODE=mtls requires TLS_CA_FILE (the CA that signs client certificates)"
        : "TLS_MODE=mtls requires TLS_CA_FILE (the CA that signs the server's certificate)",
    );
  }
  if ((config.certFile === undefined) !== (config.keyFile === undefined)) {
    throw new TlsConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
}

/** Options shared by {@link createServerCredentials} and {@link createChannelCredentials}. */
export interface CredentialsOptions {
  /** Where certificate reloads and rejected files are logged. */
  readonly log?: CertificateFileProviderOptions["log"];
}

/** Options for {@link createServerCredentials}. */
export interface ServerCredentialsOptions extends CredentialsOptions {
  /**
   * grpc-js native interceptors to run on every call arriving through these credentials,
   * including services registered outside the kit (health, reflection); e.g.
   * `createGrpcAuthorizationInterceptor(...)`.
   */
  readonly interceptors?: readonly GrpcServerInterceptor[];
}

/**
 * A native interceptor that makes `call.getAuthContext()` report `transportSecurityType: "ssl"`
 * for every call on a TLS port. grpc-js only fills the auth context when the client presented
 * a verified certificate, so without this a TLS connection without client certificate would look
 * exactly like plaintext, and the bearer-token check could not tell them apart. Only ever
 * installed by {@link createServerCredentials} on secure credentials, so it cannot lie.
 */
const markTlsTransport: GrpcServerInterceptor = (_method, call) => new TlsMarkedCall(call);

class TlsMarkedCall extends ServerInterceptingCall {
  constructor(call: ServerInterceptingCallInterface) {
    super(call);
  }
  override getAuthContext(): ReturnType<ServerInterceptingCall["getAuthContext"]> {
    return { transportSecurityType: "ssl", ...super.getAuthContext() };
  }
}

function providerFor(config: TlsConfig, withCa: boolean, options: CredentialsOptions): CertificateFileProvider {
  return createCertificateFileProvider({
    certFile: config.certFile,
    keyFile: config.keyFile,
    caFile: withCa ? config.caFile : undefined,
    refreshIntervalMs: config.reloadIntervalMs,
    log: options.log,
  });
}

/**
 * Server credentials for `config`: insecure for `off`; otherwise TLS whose certificate (and, for
 * `mtls`, client CA) are re-read when the files change, so a rotated certificate is served to new
 * connections with no restart while open connections carry on. In `mtls` mode a client without a
 * certificate signed by `TLS_CA_FILE` fails the handshake. Throws {@link TlsConfigError} when a
 * file is missing or the key does not match the certificate.
 */
export function createServerCredentials(config: TlsConfig, options: ServerCredentialsOptions = {}): ServerCredentials {
  checkTlsConfig(config, "server");
  const extra = [...(options.interceptors ?? [])];
  if (config.mode === "off") {
    return extra.length > 0
      ? experimental.createServerCredentialsWithInterceptors(ServerCredentials.createInsecure(), extra)
      : ServerCredentials.createInsecure();
  }
  const mtls = config.mode === "mtls";
  const provider = providerFor(config, mtls, options);
  // grpc-js names the parameters the other way round: the first is the identity provider.
  const secure = experimental.createCertificateProviderServerCredentials(provider, mtls ? provider : null, mtls);
  return experimental.createServerCredentialsWithInterceptors(secure, [markTlsTransport, ...extra]);
}

/**
 * Channel credentials for `config`: insecure for `off`; TLS verifying the server against
 * `TLS_CA_FILE` (system roots when unset) for `tls`; plus this client's certificate for `mtls`.
 * Files are re-read when they change; new connections use the new files.
 */
export function createChannelCredentials(config: TlsConfig, options: CredentialsOptions = {}): ChannelCredentials {
  checkTlsConfig(config, "client");
  if (config.mode === "off") return ChannelCredentials.createInsecure();
  if (config.mode === "tls" && !config.caFile) return ChannelCredentials.createSsl();
  const provider = providerFor(config, true, options);
  return experimental.createCertificateProviderChannelCredentials(
    provider,
    config.mode === "mtls" ? provider : null,
  ) as ChannelCredentials;
}
