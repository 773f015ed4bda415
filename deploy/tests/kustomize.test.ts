// The built-in renderer stands in for kustomize where none is installed, so it must agree with the
// real one and refuse what it does not implement.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  findKustomize,
  type K8sObject,
  kubernetesRoot,
  parseObjects,
  renderBuiltIn,
  renderWithKustomize,
} from "./kustomize.js";
import { strategicMerge } from "./strategic-merge.js";

const byId = (a: K8sObject, b: K8sObject): number =>
  `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

describe("built-in renderer", () => {
  const kustomize = findKustomize();
  for (const dir of ["", "base", "overlays/development", "overlays/production-mtls-ingress"]) {
    test(`matches kustomize for deploy/kubernetes/${dir}`, {
      skip: kustomize ? false : "no kustomize v5 or kubectl installed",
    }, (t) => {
      assert.ok(kustomize);
      t.diagnostic(kustomize.version);
      const path = join(kubernetesRoot, dir);
      assert.deepEqual(renderBuiltIn(path).sort(byId), renderWithKustomize(path, kustomize).sort(byId));
    });
  }

  test("refuses kustomization fields it does not implement", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "kustomize-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncommonLabels: {a: b}\n",
    );
    assert.throws(() => renderBuiltIn(dir), /field "commonLabels" is not supported/);
  });

  test("reports a patch whose target does not exist", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "kustomize-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, "kustomization.yaml"),
      "kind: Kustomization\nresources: [cm.yaml]\npatches: [{path: p.yaml}]\n",
    );
    writeFileSync(join(dir, "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n");
    writeFileSync(join(dir, "p.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n");
    assert.throws(() => renderBuiltIn(dir), /patch target ConfigMap\/b not found/);
  });

  test("reads YAML 1.1 like kubectl: 0440 is octal", () => {
    const [o] = parseObjects("apiVersion: v1\nkind: X\nmetadata: {name: a}\nmode: 0440\n", "inline");
    assert.equal(o?.mode, 0o440);
  });
});

describe("strategic merge", () => {
  const base = {
    containers: [
      { name: "a", image: "a:1", ports: [{ containerPort: 1 }], args: ["x", "y"], probe: { grpc: { port: 1 } } },
    ],
  };

  test("merges lists by merge key, replaces other lists, deletes keys set to null", () => {
    const merged = strategicMerge(base, {
      containers: [
        { name: "a", args: ["z"], probe: { grpc: null, exec: { command: ["true"] } }, ports: [{ containerPort: 2 }] },
      ],
    });
    assert.deepEqual(merged, {
      containers: [
        {
          name: "a",
          image: "a:1",
          ports: [{ containerPort: 2 }, { containerPort: 1 }],
          args: ["z"],
          probe: { exec: { command: ["true"] } },
        },
      ],
    });
  });

  test("adds new list items before existing ones, as kustomize does", () => {
    const merged = strategicMerge(base, { containers: [{ name: "b", image: "b:1" }] });
    assert.deepEqual(
      (merged.containers as { name: string }[]).map((c) => c.name),
      ["b", "a"],
    );
  });

  test("rejects directives and keyless items", () => {
    assert.throws(() => strategicMerge(base, { $patch: "replace" }), /directive \$patch/);
    assert.throws(() => strategicMerge(base, { containers: [{ image: "x" }] }), /merge key "name"/);
  });
});
