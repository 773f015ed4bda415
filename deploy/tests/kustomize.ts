/**
 * Renders a kustomization to Kubernetes objects without a cluster.
 *
 * A real kustomize is preferred: `$KUSTOMIZE` (a kustomize binary), `kustomize` on PATH, or
 * `kubectl kustomize` (kubectl ≥ 1.27 embeds kustomize v5). Debian ships no current kubectl, so
 * where none is installed a small built-in renderer is used that supports exactly the
 * kustomization fields this repository uses (resources, components, patches from files,
 * images, namespace) and rejects every other field. kustomize.test.ts checks that both give the
 * same objects wherever a real kustomize is present.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { isObject, type Json, type JsonObject, strategicMerge } from "./strategic-merge.js";

/** A Kubernetes object as rendered. */
export interface K8sObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string };
}

/** Which renderer produced a result. */
export interface Rendered {
  readonly objects: K8sObject[];
  /** e.g. "kubectl kustomize (kustomize v5.5.0)" or "built-in". */
  readonly renderer: string;
}

/**
 * kubectl and kustomize read YAML 1.1 (go-yaml), where `0440` is octal (288) and bare `off` is
 * false; parse the same way, or a Secret volume's defaultMode would be misread.
 */
export const YAML_OPTIONS = { version: "1.1" } as const;

/** Parses a multi-document YAML string into Kubernetes objects, failing on anything else. */
export function parseObjects(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, YAML_OPTIONS)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as Json;
    if (value === null) continue;
    if (!isK8sObject(value))
      throw new Error(`${source}: a document is not a Kubernetes object (apiVersion, kind, metadata.name)`);
    out.push(value);
  }
  return out;
}

function isK8sObject(value: Json): value is K8sObject {
  return (
    isObject(value) &&
    typeof value.apiVersion === "string" &&
    typeof value.kind === "string" &&
    isObject(value.metadata) &&
    typeof value.metadata.name === "string"
  );
}

/** A way to run a real kustomize: the command, its fixed leading arguments and its version. */
export interface KustomizeCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly version: string;
}

function majorVersion(text: string): number | undefined {
  const match = /v(\d+)\.\d+\.\d+/.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Finds a kustomize v5 (standalone or inside kubectl), or undefined. */
export function findKustomize(env: NodeJS.ProcessEnv = process.env): KustomizeCommand | undefined {
  const candidates: { command: string; args: string[]; versionArgs: string[]; pick: (out: string) => string }[] = [];
  const standalone = env.KUSTOMIZE ?? "kustomize";
  candidates.push({ command: standalone, args: ["build"], versionArgs: ["version"], pick: (out) => out.trim() });
  candidates.push({
    command: "kubectl",
    args: ["kustomize"],
    versionArgs: ["version", "--client"],
    pick: (out) => /Kustomize Version: (\S+)/.exec(out)?.[1] ?? "",
  });
  for (const candidate of candidates) {
    const probe = spawnSync(candidate.command, candidate.versionArgs, { encoding: "utf8", timeout: 10_000 });
    if (probe.status !== 0) continue;
    const version = candidate.pick(probe.stdout);
    // kustomize before v5 has no `components` in this form and no `patches` with paths.
    if ((majorVersion(version) ?? 0) < 5) continue;
    const name = candidate.command === "kubectl" ? "kubectl kustomize" : candidate.command;
    return { command: candidate.command, args: candidate.args, version: `${name} (kustomize ${version})` };
  }
  return undefined;
}

/** Renders with a real kustomize. */
export function renderWithKustomize(dir: string, kustomize: KustomizeCommand): K8sObject[] {
  const text = execFileSync(kustomize.command, [...kustomize.args, dir], {
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseObjects(text, `${kustomize.version} ${dir}`);
}

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "components", "patches", "images", "namespace"]);
/** Kinds that are not namespaced, among those this repository could use. */
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "ClusterIssuer",
  "CustomResourceDefinition",
]);

function readKustomization(dir: string): JsonObject {
  const file = join(dir, "kustomization.yaml");
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const docs = parseAllDocuments(readFileSync(file, "utf8"), YAML_OPTIONS);
  const value = docs[0]?.toJS() as Json | undefined;
  if (docs.length !== 1 || !isObject(value)) throw new Error(`${file}: expected one YAML map`);
  for (const key of Object.keys(value)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: field "${key}" is not supported by the built-in renderer`);
  }
  return value;
}

function stringList(value: Json | undefined, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
    throw new Error(`${what} must be a list of paths`);
  return value as string[];
}

function identity(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}

function applyKustomization(
  dir: string,
  expectKind: "Kustomization" | "Component",
  inherited: K8sObject[],
): K8sObject[] {
  const k = readKustomization(dir);
  if (k.kind !== expectKind) throw new Error(`${dir}: expected kind ${expectKind}, found ${String(k.kind)}`);
  const objects = [...inherited];
  for (const entry of stringList(k.resources, `${dir} resources`)) {
    const path = resolve(dir, entry);
    const found = statSync(path).isDirectory()
      ? applyKustomization(path, "Kustomization", [])
      : parseObjects(readFileSync(path, "utf8"), path);
    for (const object of found) {
      if (objects.some((o) => identity(o) === identity(object)))
        throw new Error(`${path}: ${identity(object)} is defined twice`);
      objects.push(object);
    }
  }
  let result = objects;
  for (const entry of stringList(k.components, `${dir} components`)) {
    result = applyKustomization(resolve(dir, entry), "Component", result);
  }
  result = applyPatches(dir, k.patches, result);
  result = applyImages(dir, k.images, result);
  if (k.namespace !== undefined) {
    if (typeof k.namespace !== "string") throw new Error(`${dir}: namespace must be a string`);
    const namespace = k.namespace;
    result = result.map((o) => (CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace } }));
  }
  return result;
}

function applyPatches(dir: string, patches: Json | undefined, objects: K8sObject[]): K8sObject[] {
  if (patches === undefined) return objects;
  if (!Array.isArray(patches)) throw new Error(`${dir}: patches must be a list`);
  let result = objects;
  for (const patch of patches) {
    if (!isObject(patch) || typeof patch.path !== "string" || Object.keys(patch).length !== 1) {
      throw new Error(`${dir}: the built-in renderer supports only patches given as { path: file }`);
    }
    const file = resolve(dir, patch.path);
    for (const p of parseObjects(readFileSync(file, "utf8"), file)) {
      const index = result.findIndex((o) => identity(o) === identity(p) && o.apiVersion === p.apiVersion);
      const target = result[index];
      if (target === undefined) throw new Error(`${file}: patch target ${identity(p)} not found`);
      result = result.with(index, strategicMerge(target, p) as K8sObject);
    }
  }
  return result;
}

function applyImages(dir: string, images: Json | undefined, objects: K8sObject[]): K8sObject[] {
  if (images === undefined) return objects;
  if (!Array.isArray(images)) throw new Error(`${dir}: images must be a list`);
  const rules = images.map((image) => {
    if (!isObject(image) || typeof image.name !== "string" || typeof image.newTag !== "string") {
      throw new Error(`${dir}: the built-in renderer supports only images given as { name, newTag }`);
    }
    if (Object.keys(image).some((key) => key !== "name" && key !== "newTag")) {
      throw new Error(`${dir}: images support only name and newTag in the built-in renderer`);
    }
    return { name: image.name, newTag: image.newTag };
  });
  const retag = (image: string): string => {
    const name = image.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
    const rule = rules.find((r) => r.name === name);
    return rule === undefined ? image : `${name}:${rule.newTag}`;
  };
  return objects.map((o) => {
    const spec = o.spec;
    const podSpec = isObject(spec) && isObject(spec.template) ? spec.template.spec : undefined;
    if (!isObject(podSpec)) return o;
    const copy = structuredClone(o);
    const copySpec = (copy.spec as JsonObject).template as JsonObject;
    const pod = copySpec.spec as JsonObject;
    for (const field of ["containers", "initContainers"]) {
      const list = pod[field];
      if (!Array.isArray(list)) continue;
      for (const container of list) {
        if (isObject(container) && typeof container.image === "string") container.image = retag(container.image);
      }
    }
    return copy;
  });
}

/** Renders with the built-in renderer (see the module comment for what it supports). */
export function renderBuiltIn(dir: string): K8sObject[] {
  return applyKustomization(resolve(dir), "Kustomization", []);
}

/** Renders `dir` with a real kustomize when one is installed, else with the built-in renderer. */
export function render(dir: string, kustomize: KustomizeCommand | undefined = findKustomize()): Rendered {
  if (kustomize !== undefined) return { objects: renderWithKustomize(dir, kustomize), renderer: kustomize.version };
  return { objects: renderBuiltIn(dir), renderer: "built-in" };
}

/** The repository's deploy/kubernetes folder. */
export const kubernetesRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "kubernetes");
