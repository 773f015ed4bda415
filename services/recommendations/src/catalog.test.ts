import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CATEGORY_NAMES, CatalogError, DEFAULT_BOOKS_FILE, loadCatalog } from "./catalog.js";

const dir = mkdtempSync(join(tmpdir(), "catalog-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function writeCatalog(text: string): string {
  const file = join(dir, `books-${fileCounter++}.json`);
  writeFileSync(file, text);
  return file;
}

const valid = {
  mystery: [{ id: 1, title: "A" }],
  "science-fiction": [{ id: 2, title: "B" }],
  "self-help": [],
};

function assertRejects(data: unknown, problem: RegExp): void {
  const file = writeCatalog(typeof data === "string" ? data : JSON.stringify(data));
  assert.throws(
    () => loadCatalog(file),
    (error: unknown) => {
      assert.ok(error instanceof CatalogError, `expected CatalogError, got ${String(error)}`);
      assert.equal(error.file, file);
      assert.ok(error.message.includes(file), `message names the file: ${error.message}`);
      assert.match(error.message, problem);
      return true;
    },
  );
}

describe("loadCatalog", () => {
  it("loads the tutorial's nine books from the default file", () => {
    const catalog = loadCatalog();
    assert.deepEqual(Object.keys(catalog).sort(), [...CATEGORY_NAMES].sort());
    assert.deepEqual(catalog.mystery, [
      { id: 1, title: "The Maltese Falcon" },
      { id: 2, title: "Murder on the Orient Express" },
      { id: 3, title: "The Hound of the Baskervilles" },
    ]);
    assert.deepEqual(catalog["science-fiction"], [
      { id: 4, title: "The Hitchhiker's Guide to the Galaxy" },
      { id: 5, title: "Ender's Game" },
      { id: 6, title: "The Dune Chronicles" },
    ]);
    assert.deepEqual(catalog["self-help"], [
      { id: 7, title: "The 7 Habits of Highly Effective People" },
      { id: 8, title: "How to Win Friends and Influence People" },
      { id: 9, title: "Man's Search for Meaning" },
    ]);
    assert.ok(DEFAULT_BOOKS_FILE.endsWith(join("recommendations", "data", "books.json")));
  });

  it("loads another file and freezes the result", () => {
    const catalog = loadCatalog(writeCatalog(JSON.stringify(valid)));
    assert.deepEqual(catalog, valid);
    assert.ok(Object.isFrozen(catalog) && Object.isFrozen(catalog.mystery) && Object.isFrozen(catalog.mystery[0]));
  });

  it("names a missing file", () => {
    const file = join(dir, "does-not-exist.json");
    assert.throws(() => loadCatalog(file), {
      name: "CatalogError",
      message: `Invalid book catalogue ${file}: cannot be read (file not found)`,
    });
  });

  it("rejects bad JSON and bad shapes with a message naming the problem", () => {
    assertRejects("{ not json", /not valid JSON/);
    assertRejects([], /expected a JSON object keyed by category/);
    assertRejects(
      { ...valid, horror: [] },
      /unknown category "horror" \(expected one of mystery, science-fiction, self-help\)/,
    );
    assertRejects({ mystery: [], "science-fiction": [] }, /missing category "self-help"/);
    assertRejects({ ...valid, mystery: { id: 1 } }, /"mystery" must be an array of books/);
    assertRejects({ ...valid, mystery: ["A"] }, /"mystery"\[0\] must be an object with "id" and "title"/);
    assertRejects(
      { ...valid, mystery: [{ id: 0, title: "A" }] },
      /"mystery"\[0\]\.id must be an integer between 1 and 2147483647, got 0/,
    );
    assertRejects({ ...valid, mystery: [{ id: 1.5, title: "A" }] }, /\.id must be an integer .* got 1\.5/);
    assertRejects({ ...valid, mystery: [{ id: "1", title: "A" }] }, /\.id must be an integer .* got "1"/);
    assertRejects({ ...valid, mystery: [{ id: 2 ** 31, title: "A" }] }, /\.id must be an integer/);
    assertRejects({ ...valid, mystery: [{ id: 1, title: "  " }] }, /"mystery"\[0\]\.title must be a non-empty string/);
    assertRejects({ ...valid, mystery: [{ id: 1 }] }, /\.title must be a non-empty string/);
    assertRejects(
      { ...valid, mystery: [{ id: 1, title: "A", tittle: "x" }] },
      /"mystery"\[0\] has unknown field "tittle"/,
    );
    assertRejects(
      { ...valid, "self-help": [{ id: 2, title: "C" }] },
      /"self-help"\[0\]\.id 2 is already used by "science-fiction"\[0\]/,
    );
  });
});
