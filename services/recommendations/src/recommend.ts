/** A source of uniform random numbers in [0, 1), like `Math.random`. Injectable so tests can seed it. */
export type RandomSource = () => number;

/**
 * Up to `count` distinct items of `items`, chosen uniformly at random and returned in random order:
 * the tutorial's `random.sample(books, min(max_results, len(books)))`.
 *
 * Uses a partial Fisher-Yates shuffle on a copy, so it costs O(n) to copy plus O(count) swaps, is
 * unbiased, and never returns the same item twice. `items` is not modified.
 * @param count - how many to pick; clamped to `[0, items.length]`, non-integers are floored.
 * @param random - a {@link RandomSource}; defaults to `Math.random`.
 */
export function sampleDistinct<T>(items: readonly T[], count: number, random: RandomSource = Math.random): T[] {
  const length = items.length;
  const n = Math.max(0, Math.min(Math.floor(count), length));
  if (n * 8 < length) return sampleFew(items, n, random);
  const pool = items.slice();
  for (let i = 0; i < n; i++) {
    // j uniform in [i, pool.length): Math.floor(random() * k) is uniform over 0..k-1 for random() in [0, 1).
    // The min() guards against a faulty source that returns exactly 1.
    const j = Math.min(pool.length - 1, i + Math.floor(random() * (pool.length - i)));
    const picked = pool[j] as T;
    pool[j] = pool[i] as T;
    pool[i] = picked;
  }
  pool.length = n;
  return pool;
}

/**
 * The same partial Fisher-Yates shuffle (the same draws give the same books) without copying
 * `items`: only the few positions the swaps touched are remembered. For a few books out of a
 * large category, which is what Recommend asks on every call.
 */
function sampleFew<T>(items: readonly T[], n: number, random: RandomSource): T[] {
  const length = items.length;
  const picked: T[] = new Array(n);
  // Positions whose item a swap replaced, and the item each now holds.
  const moved: number[] = [];
  const holds: T[] = [];
  for (let i = 0; i < n; i++) {
    const j = Math.min(length - 1, i + Math.floor(random() * (length - i)));
    let atI = items[i] as T;
    let atJ = items[j] as T;
    let slotJ = -1;
    for (let k = 0; k < moved.length; k++) {
      if (moved[k] === i) atI = holds[k] as T;
      if (moved[k] === j) {
        atJ = holds[k] as T;
        slotJ = k;
      }
    }
    picked[i] = atJ;
    if (slotJ === -1) {
      moved.push(j);
      holds.push(atI);
    } else holds[slotJ] = atI;
  }
  return picked;
}
