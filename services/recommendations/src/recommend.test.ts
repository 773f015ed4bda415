import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createSeededRandom } from "./fixtures/seeded-random.js";
import { sampleDistinct } from "./recommend.js";

describe("sampleDistinct", () => {
  const items = ["a", "b", "c", "d", "e"] as const;

  it("returns the requested number of distinct items from the input", () => {
    const random = createSeededRandom(1);
    for (let count = 0; count <= items.length; count++) {
      const picked = sampleDistinct(items, count, random);
      assert.equal(picked.length, count);
      assert.equal(new Set(picked).size, count, `distinct: ${picked.join(",")}`);
      for (const item of picked) assert.ok(items.includes(item));
    }
  });

  it("clamps the count to [0, items.length] and leaves the input alone", () => {
    const input = [1, 2, 3];
    assert.deepEqual(sampleDistinct(input, 10).sort(), [1, 2, 3]);
    assert.deepEqual(sampleDistinct(input, 0), []);
    assert.deepEqual(sampleDistinct(input, -4), []);
    assert.deepEqual(sampleDistinct([], 3), []);
    assert.deepEqual(input, [1, 2, 3]);
  });

  it("survives a random source that returns values at the edges", () => {
    assert.deepEqual(
      sampleDistinct([1, 2, 3], 3, () => 0),
      [1, 2, 3],
    );
    const picked = sampleDistinct([1, 2, 3], 3, () => 1);
    assert.deepEqual([...picked].sort(), [1, 2, 3]);
  });

  it("is unbiased: every ordered sample of 2 out of 4 comes up about equally often", () => {
    const random = createSeededRandom(42);
    const counts = new Map<string, number>();
    const runs = 24_000;
    for (let i = 0; i < runs; i++) {
      const key = sampleDistinct([1, 2, 3, 4], 2, random).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // 4 * 3 = 12 ordered pairs, 2000 expected each; a biased shuffle (e.g. sort by random) misses by far more than 10%.
    assert.equal(counts.size, 12);
    for (const [key, count] of counts) assert.ok(Math.abs(count - 2000) < 200, `${key}: ${count}`);
  });

  it("uses Math.random by default and covers every item over repeated calls", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < items.length; i++)
      for (const item of sampleDistinct(items, 1)) seen.add(item);
    assert.equal(seen.size, items.length);
  });

  it("picks from a large category without copying it, exactly as the full shuffle would", () => {
    const reference = <T>(items: readonly T[], count: number, random: () => number): T[] => {
      const pool = items.slice();
      for (let i = 0; i < count; i++) {
        const j = Math.min(pool.length - 1, i + Math.floor(random() * (pool.length - i)));
        [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
      }
      return pool.slice(0, count);
    };
    const items = Array.from({ length: 100 }, (_, i) => i);
    const [a, b] = [createSeededRandom(5), createSeededRandom(5)];
    for (let run = 0; run < 2000; run++) {
      const count = 1 + (run % 12);
      assert.deepEqual(sampleDistinct(items, count, a), reference(items, count, b));
    }
    // Edges: a source at 0 picks the first items in order; one at 1 the last, then what moved there.
    assert.deepEqual(
      sampleDistinct(items, 3, () => 0),
      [0, 1, 2],
    );
    assert.deepEqual(
      sampleDistinct(items, 3, () => 1),
      [99, 0, 1],
    );
  });
});
