// Webhook targets may not reach the store's own network: every address a host resolves to is
// checked (one private address is enough to refuse), the connection then goes to the checked
// address itself (no second lookup that DNS rebinding could answer differently), and redirects
// are never followed.
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/** Ranges no delivery may reach: private, loopback, link-local, shared, reserved, multicast. */
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  BLOCKED.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  BLOCKED.addSubnet(network, prefix, "ipv6");
}

/** Whether `address` (an IP literal) is private, loopback, link-local or otherwise not public. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, "ipv4");
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return BLOCKED.check(mapped, "ipv4");
  return BLOCKED.check(address, "ipv6");
}

/** Why a URL is refused, for the delivery log and the INVALID_ARGUMENT message. */
export class TargetRefused extends Error {
  override readonly name = "TargetRefused";
  constructor(
    message: string,
    /** "url": the URL itself is unusable; "address": it resolves to a refused address. */
    readonly reason: "url" | "address",
  ) {
    super(message);
  }
}

/** A checked target: where to connect. */
export interface CheckedTarget {
  readonly url: URL;
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves `url`'s host and checks every address; `allowedHosts` skips the address check and permits http. */
export async function checkTarget(
  raw: string,
  allowedHosts: ReadonlySet<string>,
  resolve: (host: string) => Promise<{ address: string; family: number }[]> = (host) =>
    lookup(host, { all: true, verbatim: true }),
): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused("Webhook URL is not a valid URL", "url");
  }
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const allowed = allowedHosts.has(host);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowed)) {
    throw new TargetRefused("Webhook URL must use https://", "url");
  }
  if (url.username !== "" || url.password !== "")
    throw new TargetRefused("Webhook URL must not carry credentials", "url");
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new TargetRefused("Webhook URL host does not resolve", "url");
    }
  }
  const first = addresses[0];
  if (first === undefined) throw new TargetRefused("Webhook URL host does not resolve", "url");
  if (!allowed && addresses.some((a) => isBlockedAddress(a.address))) {
    throw new TargetRefused("Webhook URL must not point to a private network address", "address");
  }
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
