// The third-party protos in protos/ are exact copies of the pinned npm packages' files: a local
// edit (or a package upgrade without re-vendoring) fails here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const script = join(repoRoot, "scripts", "vendor-protos.mjs");

test("every vendored proto is its package's file, with the vendoring header", async () => {
  const { VENDORED, vendoredText } = (await import(script)) as {
    VENDORED: [string, string, string][];
    vendoredText: (pkg: string, from: string) => string;
  };
  assert.ok(VENDORED.length >= 8);
  for (const [pkg, from, to] of VENDORED) {
    const text = readFileSync(join(repoRoot, "protos", to), "utf8");
    assert.equal(text, vendoredText(pkg, from), `protos/${to} differs from ${pkg}/${from}`);
  }
});

test("the --check mode passes on protos/ and fails on an edited copy", async (t) => {
  const ok = spawnSync(process.execPath, [script, "--check"], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  const copy = await mkdtemp(join(tmpdir(), "obfy-vendored-"));
  t.after(() => rm(copy, { recursive: true, force: true }));
  await cp(join(repoRoot, "protos"), copy, { recursive: true });
  const edited = join(copy, "google", "api", "http.proto");
  await writeFile(edited, `${await readFile(edited, "utf8")}// edited\n`);
  const stale = spawnSync(process.execPath, [script, "--check", "--protos", copy], { encoding: "utf8" });
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /google\/api\/http\.proto differs from google-proto-files\/google\/api\/http\.proto/);
});
