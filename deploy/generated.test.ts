// The committed Dockerfiles, Kubernetes base and overlays and compose.yaml are exactly what
// deploy/generate.mjs writes from its table: a hand edit, or a table change without regenerating,
// fails here with the names of the files.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEPLOYABLES, generate } from "./generate.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

test("deploy files are up to date with deploy/generate.mjs (run: node deploy/generate.mjs)", () => {
  const stale = Object.entries(generate())
    .filter(([path, text]) => !existsSync(join(root, path)) || readFileSync(join(root, path), "utf8") !== text)
    .map(([path]) => path);
  assert.deepEqual(stale, []);
});

test("the table agrees with scripts/services.mjs on ports and databases", async () => {
  const { SERVICES } = (await import("../scripts/services.mjs")) as {
    SERVICES: readonly { name: string; port: number; metricsPort: number; database: boolean }[];
  };
  for (const s of SERVICES) {
    const d = DEPLOYABLES.find((x) => x.name === s.name);
    assert.ok(d, `${s.name} (npm start) has a deployment entry`);
    assert.deepEqual([d.port, d.metricsPort, d.database], [s.port, s.metricsPort, s.database], s.name);
  }
});

test("every folder under services/ is deployed", () => {
  for (const d of DEPLOYABLES) assert.ok(existsSync(join(root, "services", d.name, "package.json")), d.name);
});
