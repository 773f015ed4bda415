// One Node version everywhere: the `node` dev dependency that npm installs (and every npm script
// runs on), .nvmrc, every package's `engines`, and every Dockerfile's NODE_VERSION must name the
// same exact release, and the tests themselves must be running on it.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string): string => readFileSync(join(repoRoot, path), "utf8");
const json = (path: string): Record<string, unknown> => JSON.parse(read(path)) as Record<string, unknown>;

interface Versions {
  readonly [where: string]: string | undefined;
}

/** Every place that names the Node version, by where it is. */
function nodeVersions(): Versions {
  const root = json("package.json") as { devDependencies?: Record<string, string>; workspaces?: string[] };
  const found: Record<string, string | undefined> = {
    "package.json devDependencies.node": root.devDependencies?.node,
    ".nvmrc": read(".nvmrc").trim(),
  };
  const workspaces = (root.workspaces ?? []).flatMap((pattern) =>
    pattern.endsWith("/*")
      ? readdirSync(join(repoRoot, pattern.slice(0, -2)))
          .map((name) => join(pattern.slice(0, -2), name))
          .filter((dir) => existsSync(join(repoRoot, dir, "package.json")))
      : [pattern],
  );
  for (const dir of [".", ...workspaces]) {
    const pkg = json(join(dir, "package.json")) as { engines?: { node?: string } };
    found[`${dir}/package.json engines.node`] = pkg.engines?.node;
  }
  for (const name of readdirSync(join(repoRoot, "services"))) {
    let dockerfile: string;
    try {
      dockerfile = read(join("services", name, "Dockerfile"));
    } catch {
      continue;
    }
    found[`services/${name}/Dockerfile NODE_VERSION`] = /^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
  }
  return found;
}

/** The places that disagree with the pinned dev dependency, as readable lines. */
export function disagreements(versions: Versions): string[] {
  const pinned = versions["package.json devDependencies.node"];
  if (pinned === undefined || !/^\d+\.\d+\.\d+$/.test(pinned))
    return [`node is not pinned to an exact version: ${pinned}`];
  return Object.entries(versions)
    .filter(([, version]) => version !== pinned)
    .map(([where, version]) => `${where} is ${version ?? "missing"}, expected ${pinned}`);
}

test("engines, .nvmrc, the pinned node package and every Dockerfile name the same Node release", () => {
  const versions = nodeVersions();
  assert.ok(
    Object.keys(versions).some((where) => where.endsWith("Dockerfile NODE_VERSION")),
    "found the Dockerfiles",
  );
  assert.deepEqual(disagreements(versions), []);
});

test("a disagreement is reported, naming the place", () => {
  const versions: Versions = { ...nodeVersions(), ".nvmrc": "24.11.0" };
  assert.deepEqual(disagreements(versions), [
    `.nvmrc is 24.11.0, expected ${versions["package.json devDependencies.node"]}`,
  ]);
  assert.deepEqual(disagreements({ "package.json devDependencies.node": "^26" }), [
    "node is not pinned to an exact version: ^26",
  ]);
});

test("the tests run on the pinned release (npm scripts put node_modules/.bin/node first)", () => {
  const pinned = (json("package.json") as { devDependencies: Record<string, string> }).devDependencies.node;
  assert.equal(process.version, `v${pinned}`);
});
