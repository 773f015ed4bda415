// Contract checks for the protos/ buf module: lint, breaking changes against the previous
// commit, and proof that the breaking check really catches a breaking edit.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const buf = join(repoRoot, "node_modules", ".bin", "buf");

interface Result {
  code: number;
  output: string;
}

async function exec(cmd: string, args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: repoRoot });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

test("buf lint passes on the protos module", async () => {
  const result = await exec(buf, ["lint", "protos"]);
  assert.equal(result.code, 0, result.output);
});

test("buf breaking: no breaking change against the previous commit", async (t) => {
  // Compare the working tree with HEAD when protos/ has uncommitted edits, otherwise with the
  // commit before HEAD, so both a developer's edit and CI's checkout of a new commit are checked.
  const dirty = await exec("git", ["status", "--porcelain", "--", "protos"]);
  const base = dirty.output.trim() === "" ? "HEAD~1" : "HEAD";
  const hasBase = await exec("git", ["rev-parse", "--verify", "--quiet", `${base}^{commit}`]);
  if (hasBase.code !== 0) {
    t.skip(`no ${base} commit in this clone (shallow or first commit): nothing to compare with`);
    return;
  }
  const hasModule = await exec("git", ["cat-file", "-e", `${base}:protos/buf.yaml`]);
  if (hasModule.code !== 0) {
    t.skip(`${base} has no protos/ module yet: nothing to compare with`);
    return;
  }
  const result = await exec(buf, ["breaking", "protos", "--against", `.git#ref=${base},subdir=protos`]);
  assert.equal(result.code, 0, `buf breaking against ${base} failed:\n${result.output}`);
});

async function mutatedCopy(edit: (source: string) => string, file: string): Promise<{ dir: string; base: string }> {
  const dir = await mkdtemp(join(tmpdir(), "obfy-breaking-"));
  const base = join(dir, "base");
  const changed = join(dir, "changed");
  await cp(join(repoRoot, "protos"), base, { recursive: true });
  await cp(join(repoRoot, "protos"), changed, { recursive: true });
  const path = join(changed, file);
  const source = await readFile(path, "utf8");
  const edited = edit(source);
  assert.notEqual(edited, source, "the mutation must change the file");
  await writeFile(path, edited);
  return { dir, base };
}

for (const [name, file, edit, expected] of [
  [
    "renumbering a v1 field",
    "bookstore/recommendations/v1/recommendations.proto",
    (s: string) => s.replace("int32 max_results = 3;", "int32 max_results = 4;"),
    /max_results/,
  ],
  [
    "changing a legacy field's type",
    "legacy/recommendations.proto",
    (s: string) => s.replace("int32 user_id = 1;", "string user_id = 1;"),
    /user_id/,
  ],
  [
    "removing the legacy rpc",
    "legacy/recommendations.proto",
    (s: string) => s.replace("  rpc Recommend(RecommendationRequest) returns (RecommendationResponse);\n", ""),
    /Recommend/,
  ],
] as const) {
  test(`buf breaking catches ${name}`, async (t) => {
    const { dir, base } = await mutatedCopy(edit, file);
    t.after(() => rm(dir, { recursive: true, force: true }));
    const result = await exec(buf, ["breaking", join(dir, "changed"), "--against", base]);
    assert.notEqual(result.code, 0, "buf breaking should have failed");
    assert.match(result.output, expected);
  });
}
