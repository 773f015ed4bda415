import type { PeerCertificate } from "node:tls";
import { type CallContext, createContextKey } from "../context.js";

/** The default SPIFFE trust domain of our workload identities. */
export const DEFAULT_TRUST_DOMAIN = "online-books";

/** The SPIFFE ID we give a workload, e.g. `spiffe://online-books/marketplace`. */
export function spiffeId(name: string, trustDomain: string = DEFAULT_TRUST_DOMAIN): string {
  return `spiffe://${trustDomain}/${name}`;
}

/**
 * Who is calling, as established by the transport (client certificate) or by a verified token.
 * Authorization policies match on {@link PeerIdentity.name}.
 */
export interface PeerIdentity {
  /**
   * The workload name policies refer to: the path of the SPIFFE ID in our trust domain
   * (`spiffe://online-books/marketplace` → `marketplace`), else the certificate's common name,
   * else the token's subject.
   */
  readonly name: string;
  /** How the identity was established. */
  readonly source: "certificate" | "jwt";
  /** The SPIFFE ID from the certificate's URI SAN, when it has one in our trust domain. */
  readonly spiffeId?: string;
  /** The certificate's subject common name. */
  readonly commonName?: string;
  /** Serial number (hex) of the certificate. */
  readonly serialNumber?: string;
}

/** The caller's identity on the {@link CallContext}; `undefined` for an anonymous caller. */
export const peerIdentityKey = createContextKey<PeerIdentity | undefined>(undefined, "peer identity");

/** The caller's identity, if an authentication interceptor established one. */
export function getPeerIdentity(context: Pick<CallContext, "get">): PeerIdentity | undefined {
  return context.get(peerIdentityKey);
}

/**
 * Splits Node's `subjectaltname` string (`DNS:a, URI:spiffe://x/y`) into entries. Node quotes
 * values containing separators as JSON strings (`URI:"a, b"`), so a naive split on commas would
 * let a crafted SAN smuggle in a second entry.
 */
function parseSubjectAltNames(value: string | undefined): Array<{ type: string; value: string }> {
  const entries: Array<{ type: string; value: string }> = [];
  if (!value) return entries;
  let i = 0;
  while (i < value.length) {
    while (value[i] === " " || value[i] === ",") i++;
    const colon = value.indexOf(":", i);
    if (colon === -1) break;
    const type = value.slice(i, colon);
    i = colon + 1;
    let text: string;
    if (value[i] === '"') {
      let j = i + 1;
      while (j < value.length && value[j] !== '"') j += value[j] === "\\" ? 2 : 1;
      try {
        text = JSON.parse(value.slice(i, j + 1)) as string;
      } catch {
        break;
      }
      i = j + 1;
    } else {
      const end = value.indexOf(", ", i);
      text = end === -1 ? value.slice(i) : value.slice(i, end);
      i = end === -1 ? value.length : end;
    }
    entries.push({ type, value: text });
  }
  return entries;
}

const WORKLOAD_NAME = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * The identity in a verified peer certificate: the SPIFFE ID's path when the certificate has a
 * URI SAN `spiffe://<trustDomain>/<path>`, otherwise its common name. URI SANs in other trust
 * domains are ignored (they name somebody else's workloads).
 */
export function identityFromCertificate(
  certificate: PeerCertificate,
  trustDomain: string = DEFAULT_TRUST_DOMAIN,
): PeerIdentity | undefined {
  const prefix = `spiffe://${trustDomain}/`;
  const spiffe = parseSubjectAltNames(certificate.subjectaltname).find(
    (entry) =>
      entry.type === "URI" && entry.value.startsWith(prefix) && WORKLOAD_NAME.test(entry.value.slice(prefix.length)),
  );
  const cn: unknown = certificate.subject?.CN;
  const commonName = typeof cn === "string" ? cn : Array.isArray(cn) && typeof cn[0] === "string" ? cn[0] : undefined;
  const name = spiffe ? spiffe.value.slice(prefix.length) : commonName;
  if (!name) return undefined;
  return {
    name,
    source: "certificate",
    ...(spiffe ? { spiffeId: spiffe.value } : {}),
    ...(commonName ? { commonName } : {}),
    ...(certificate.serialNumber ? { serialNumber: certificate.serialNumber } : {}),
  };
}

/** What grpc-js server calls offer: `call.getAuthContext()`. */
export interface AuthContextSource {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate };
}

/**
 * The identity of the verified client certificate on a call's connection, or `undefined` when
 * the connection is plaintext, the client sent no certificate, or the certificate was not
 * verified. Uses grpc-js' `getAuthContext()`, which only reports certificates that passed
 * verification against the server's CA.
 */
export function certificateIdentity(
  raw: AuthContextSource,
  trustDomain: string = DEFAULT_TRUST_DOMAIN,
): PeerIdentity | undefined {
  const auth = raw.getAuthContext();
  if (auth.transportSecurityType !== "ssl" || !auth.sslPeerCertificate) return undefined;
  return identityFromCertificate(auth.sslPeerCertificate, trustDomain);
}
