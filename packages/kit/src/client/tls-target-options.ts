import { isIP } from "node:net";
import { type ChannelOptions, experimental } from "@grpc/grpc-js";

/** The host a grpc-js channel for `target` names in TLS (its default authority), e.g. `127.0.0.1`. */
function authorityHost(target: string): string | undefined {
  // `dns:host:port`, `dns:///host:port`, `dns://resolver/host:port`, `ipv4:a:p,b:p`, `ipv6:[a]:p`
  // or a bare `host:port`; for address lists grpc-js takes the first address as the authority.
  // (Other schemes, `unix:` and the like, never yield an IP address here.)
  const match = /^(?:dns:(?:\/\/[^/]*\/)?|ipv4:|ipv6:)?([^,]+)/.exec(target);
  return match?.[1] === undefined ? undefined : experimental.splitHostPort(match[1])?.host;
}

/**
 * The channel options a grpc-js channel needs to reach `target` over TLS: none, unless the
 * target's host is an IP address. `createClient` applies them itself; pass them to a plain grpc-js
 * client (`new Client(target, credentials, tlsTargetOptions(target))`).
 *
 * Why: grpc-js 1.14 passes the target's host to `tls.connect` as `servername` (the SNI), and
 * Node 26 throws for an IP address there (RFC 6066 forbids it; deprecation DEP0123 became an
 * error). grpc-js's public `grpc.ssl_target_name_override` replaces that name, both as SNI and
 * as the name the certificate is checked against, so it is set to the address in its fully
 * qualified form, with a trailing dot (`127.0.0.1.`, `::1.`): Node accepts that as a servername,
 * and `tls.checkServerIdentity`, which grpc-js calls with it, drops the dot and checks the
 * certificate's IP address SANs exactly as for the bare address. Verification is as strict as
 * before: a certificate without that IP SAN is refused (`tls.test.ts` proves both). gRPC's C core
 * sends no SNI for an IP target instead; grpc-js offers no way to omit it.
 */
export function tlsTargetOptions(target: string): ChannelOptions {
  const host = authorityHost(target);
  if (host === undefined || isIP(host) === 0) return {};
  return { "grpc.ssl_target_name_override": `${host}.` };
}
