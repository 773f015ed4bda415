import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createLogger, readServerConfig } from "@obfy/kit";
import { protosRoot } from "@obfy/protos";
import { createRecommendationsServer } from "./app.js";
import { loadCatalog } from "./catalog.js";

const run = promisify(execFile);
// The Debian python3 has grpcio and grpcio-tools; the pyenv one on PATH does not.
const PYTHON = "/usr/bin/python3";
const CLIENT = fileURLToPath(new URL("../scripts/recommendations_client.py", import.meta.url));

interface CallResult {
  call: string;
  ok: boolean;
  recommendations?: { id: number; title: string; category?: string }[];
  code?: string;
  details?: string;
}

describe("Python grpcio client", () => {
  it("calls both APIs with stubs generated from our protos and gets the right results and status codes", async (t) => {
    const stubs = mkdtempSync(join(tmpdir(), "recommendations-py-"));
    t.after(() => rmSync(stubs, { recursive: true, force: true }));
    await run(PYTHON, [
      "-m",
      "grpc_tools.protoc",
      `-I${protosRoot}`,
      `--python_out=${stubs}`,
      `--grpc_python_out=${stubs}`,
      "legacy/recommendations.proto",
      "bookstore/recommendations/v1/recommendations.proto",
      // Its imports, as a Python user generates them too.
      "bookstore/auth/v1/auth.proto",
      "bookstore/common/v1/money.proto",
      "google/api/annotations.proto",
      "google/api/http.proto",
    ]);

    const server = createRecommendationsServer({
      catalog: loadCatalog(),
      logger: createLogger({ name: "python-interop-test", level: "silent" }),
      config: readServerConfig({ HOST: "127.0.0.1", PORT: "0", SHUTDOWN_GRACE_SECONDS: "1" }),
    });
    t.after(() => server.shutdown());
    const { port } = await server.listen();

    const calls = [
      "v1:BOOK_CATEGORY_SCIENCE_FICTION:3",
      "v1:BOOK_CATEGORY_MYSTERY:0",
      "v1:BOOK_CATEGORY_UNSPECIFIED:3",
      "v1:9:3",
      "v1:BOOK_CATEGORY_SELF_HELP:-1",
      "legacy:MYSTERY:1",
      "legacy:SELF_HELP:0",
      "legacy:7:1",
      "legacy:SCIENCE_FICTION:-2",
    ];
    const { stdout } = await run(PYTHON, [CLIENT, "--stubs", stubs, "--target", `127.0.0.1:${port}`, ...calls], {
      timeout: 60_000,
    });
    const results = new Map(
      stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as CallResult)
        .map((result) => [result.call, result]),
    );
    assert.equal(results.size, calls.length, stdout);
    const get = (call: string): CallResult => {
      const result = results.get(call);
      assert.ok(result, `no result for ${call}`);
      return result;
    };
    const ids = (call: string) => (get(call).recommendations ?? []).map((b) => b.id).sort((a, b) => a - b);

    assert.deepEqual(ids("v1:BOOK_CATEGORY_SCIENCE_FICTION:3"), [4, 5, 6]);
    for (const book of get("v1:BOOK_CATEGORY_SCIENCE_FICTION:3").recommendations ?? []) {
      assert.equal(book.category, "BOOK_CATEGORY_SCIENCE_FICTION");
    }
    assert.deepEqual(ids("v1:BOOK_CATEGORY_MYSTERY:0"), [1, 2, 3], "v1: 0 means the default, 3");
    assert.deepEqual(get("v1:BOOK_CATEGORY_UNSPECIFIED:3"), {
      call: "v1:BOOK_CATEGORY_UNSPECIFIED:3",
      ok: false,
      code: "INVALID_ARGUMENT",
      details:
        "category is required: set it to one of BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SCIENCE_FICTION, BOOK_CATEGORY_SELF_HELP",
    });
    assert.deepEqual(get("v1:9:3"), { call: "v1:9:3", ok: false, code: "NOT_FOUND", details: "Category not found" });
    assert.deepEqual(get("v1:BOOK_CATEGORY_SELF_HELP:-1"), {
      call: "v1:BOOK_CATEGORY_SELF_HELP:-1",
      ok: false,
      code: "INVALID_ARGUMENT",
      details: "max_results must be >= 0, got -1",
    });

    const mystery = get("legacy:MYSTERY:1").recommendations ?? [];
    assert.equal(mystery.length, 1);
    assert.ok([1, 2, 3].includes(mystery[0]?.id ?? 0));
    assert.deepEqual(get("legacy:SELF_HELP:0"), { call: "legacy:SELF_HELP:0", ok: true, recommendations: [] });
    assert.deepEqual(get("legacy:7:1"), {
      call: "legacy:7:1",
      ok: false,
      code: "NOT_FOUND",
      details: "Category not found",
    });
    assert.deepEqual(get("legacy:SCIENCE_FICTION:-2"), {
      call: "legacy:SCIENCE_FICTION:-2",
      ok: false,
      code: "INVALID_ARGUMENT",
      details: "max_results must be >= 0, got -2",
    });
  });
});
