// Password hashing: argon2id (@node-rs/argon2, on libuv's thread pool, off the event loop).
import { randomBytes } from "node:crypto";
import { hash, parseOptions, verify } from "@node-rs/argon2";

/** argon2id's cost; the algorithm is the library's default, argon2id. */
export interface PasswordHashCost {
  /** KiB of memory per hash. */
  readonly memoryCost: number;
  /** Passes over that memory. */
  readonly timeCost: number;
}

/** Hashes and checks passwords with one cost. */
export interface PasswordHasher {
  /** A PHC string (`$argon2id$v=19$m=…,t=…,p=1$salt$hash`) with a fresh random salt. */
  hash(password: string): Promise<string>;
  /** True when `password` matches `stored`; false for a malformed stored hash. */
  verify(stored: string, password: string): Promise<boolean>;
  /**
   * Spends the time of a real check on no account, so an unknown email answers as slowly as a
   * wrong password does (and the two cannot be told apart by timing).
   */
  verifyNothing(password: string): Promise<void>;
  /** True when `stored` was made with another cost: rehash it at the next successful sign-in. */
  needsRehash(stored: string): boolean;
}

/** Creates a {@link PasswordHasher} with `cost`. */
export function createPasswordHasher(cost: PasswordHashCost): PasswordHasher {
  const options = { memoryCost: cost.memoryCost, timeCost: cost.timeCost, parallelism: 1 };
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, options),
    async verify(stored, password) {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
    async verifyNothing(password) {
      dummy ??= hash(randomBytes(32).toString("base64url"), options);
      await verify(await dummy, password).catch(() => false);
    },
    needsRehash(stored) {
      try {
        const parsed = parseOptions(stored);
        return (
          parsed.memoryCost !== options.memoryCost ||
          parsed.timeCost !== options.timeCost ||
          parsed.parallelism !== options.parallelism ||
          // 2 is argon2id (a const enum in the library's types).
          (parsed.algorithm as number) !== 2
        );
      } catch {
        return false;
      }
    },
  };
}
