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
});
