#!/usr/bin/env node
// Copies the third-party .proto files our contracts import into protos/, from pinned npm packages
// (buf cannot reach its registry here, and a copy from a package is reproducible and reviewable).
// `node scripts/vendor-protos.mjs` rewrites them; `--check` exits 1 when a copy differs from its
// package (test/vendored-protos.test.ts runs that); `--protos DIR` checks or writes another copy
// of protos/. Each copy gets a header naming its source.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const require = createRequire(import.meta.url);
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));

/** [package, path inside the package, path under protos/] */
export const VENDORED = [
  ...["annotations", "http", "httpbody", "field_behavior"].map((f) => [
    "google-proto-files",
    `google/api/${f}.proto`,
    `google/api/${f}.proto`,
  ]),
  ...["status", "code", "error_details"].map((f) => [
    "google-proto-files",
    `google/rpc/${f}.proto`,
    `google/rpc/${f}.proto`,
  ]),
  ["grpc-health-check", "proto/health/v1/health.proto", "grpc/health/v1/health.proto"],
];

/** The vendored text: the package's file with a header saying where it came from, after the licence. */
export function vendoredText(pkg, from) {
  const dir = packageDir(pkg);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const source = readFileSync(join(dir, from), "utf8");
  const header = `// Vendored unchanged from the npm package ${pkg}@${version} (${from}) by scripts/vendor-protos.mjs;\n// buf cannot reach its registry here. Do not edit: change the package version and re-run the script.\n\n`;
  const at = source.indexOf("syntax =");
  return at < 0 ? header + source : source.slice(0, at) + header + source.slice(at);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  const at = process.argv.indexOf("--protos");
  const protosDir = at < 0 ? join(repoRoot, "protos") : resolve(process.argv[at + 1] ?? "");
  let stale = 0;
  for (const [pkg, from, to] of VENDORED) {
    const target = join(protosDir, to);
    const text = vendoredText(pkg, from);
    let current = "";
    try {
      current = readFileSync(target, "utf8");
    } catch {}
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${relative(repoRoot, target)} differs from ${pkg}/${from}\n`);
      stale++;
    } else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
      process.stdout.write(`vendored ${relative(repoRoot, target)}\n`);
    }
  }
  process.exit(stale === 0 ? 0 : 1);
}
