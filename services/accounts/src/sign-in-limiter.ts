// Sign-in rate limits per account and per client address, with exponential backoff, counted in
// the database so every replica sees the same counts (README, "Sign-in limits").
import { isIP } from "node:net";
import type { Database } from "@obfy/kit/db";
import type { SignInLimits } from "./config.js";
import type { AccountsSchema } from "./db/schema.js";
import { clearAccount, countAttempt, type ThrottleKey, uncount } from "./db/sign-in-throttle.js";
import { tooManyAttempts } from "./errors.js";

/** The counters one attempt goes through. */
export interface AttemptKeys {
  /** The normalised email, whether or not an account has it (so both cases behave alike). */
  readonly email: string;
  /** From {@link addressKey}; undefined skips the per-address limit (a password change). */
  readonly address: string | undefined;
}

/** Admits or refuses sign-in attempts. */
export interface SignInLimiter {
  /**
   * Counts the attempt as a failure on each counter, or throws RESOURCE_EXHAUSTED "Too many
   * sign-in attempts; try again in N seconds" (with a RetryInfo) when one of them must wait; a
   * refused attempt counts nowhere. Call {@link SignInLimiter.succeeded} when it succeeds.
   */
  admit(keys: AttemptKeys): Promise<void>;
  /** The attempt was right: the account's failures are forgotten, the address's count taken back. */
  succeeded(keys: AttemptKeys): Promise<void>;
}

/**
 * The per-address counter of a client address: an IPv4 address as it is, an IPv6 address by its
 * /64 (one household or host usually holds a whole /64), an IPv4-mapped IPv6 address as IPv4.
 * An empty address (a caller that gave none) counts under the calling workload's address.
 */
export function addressKey(ipAddress: string, peer: string): string {
  let address = ipAddress;
  if (address === "") {
    address = peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.slice(0, peer.lastIndexOf(":"));
    if (isIP(address) === 0) return `peer:${peer}`;
  }
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped?.[1]) return mapped[1];
  if (isIP(lower) !== 6) return lower;
  return `${expandIpv6(lower).slice(0, 4).join(":")}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros. */
function expandIpv6(address: string): string[] {
  const withoutZone = address.split("%", 1)[0] ?? address;
  let text = withoutZone;
  // A trailing dotted quad (::1.2.3.4) becomes two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16).toString(16));
}

/** Creates the {@link SignInLimiter}. */
export function createSignInLimiter(options: {
  readonly database: Database<AccountsSchema>;
  readonly limits: SignInLimits;
}): SignInLimiter {
  const { database, limits } = options;
  const backoff = {
    baseSeconds: limits.backoffBaseSeconds,
    maxSeconds: limits.backoffMaxSeconds,
    resetSeconds: limits.failureResetSeconds,
  };
  const counters = (keys: AttemptKeys): ThrottleKey[] => [
    { kind: "account", key: keys.email, freeFailures: limits.accountFreeFailures },
    ...(keys.address === undefined
      ? []
      : [{ kind: "address" as const, key: keys.address, freeFailures: limits.addressFreeFailures }]),
  ];
  return {
    async admit(keys) {
      // One transaction, counters always in the same order (account, then address): a refusal
      // on the second rolls back the first, and two attempts never wait on each other in a cycle.
      await database.transaction(async (trx) => {
        for (const counter of counters(keys)) {
          const waitMs = await countAttempt(trx, counter, backoff);
          if (waitMs !== undefined) throw tooManyAttempts(waitMs);
        }
      });
    },
    async succeeded(keys) {
      await database.transaction(async (trx) => {
        await clearAccount(trx, keys.email);
        if (keys.address !== undefined) await uncount(trx, "address", keys.address);
      });
    },
  };
}
