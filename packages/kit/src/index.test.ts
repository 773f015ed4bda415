// `@obfy/kit` names its exports one by one; this keeps it equal to the union of the subpaths it
// stands for, so a symbol added to a subpath cannot be forgotten here (or the other way round).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as client from "./client/index.js";
import * as cluster from "./cluster/index.js";
import * as core from "./core.js";
import * as dev from "./dev/index.js";
import * as kit from "./index.js";
import * as dashboard from "./observability/dashboard/index.js";
import * as http from "./observability/http-plugins.js";
import * as observability from "./observability/index.js";
import * as security from "./security/index.js";
import * as server from "./server/index.js";
import * as testing from "./testing/index.js";

describe("@obfy/kit", () => {
  it("exports exactly what its production subpaths export, and neither dev nor testing tooling", () => {
    const subpaths = [client, cluster, core, dashboard, http, observability, security, server];
    const union = new Set(subpaths.flatMap((module) => Object.keys(module)));
    assert.deepEqual(Object.keys(kit).sort(), [...union].sort());
    for (const name of [...Object.keys(dev), ...Object.keys(testing)]) {
      assert.ok(!(name in kit), `${name} belongs to @obfy/kit/dev or /testing only`);
    }
  });
});
