import type { RandomSource } from "../recommend.js";

/**
 * A small deterministic {@link RandomSource} (mulberry32) so tests about randomness are
 * repeatable. Not for production use: it is neither cryptographic nor well distributed beyond tests.
 */
export function createSeededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
