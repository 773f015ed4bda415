/**
 * The subset of Kubernetes strategic merge patch that our kustomize patches use, for the built-in
 * renderer (see kustomize.ts): maps merge recursively, `null` deletes a key, lists of containers,
 * env, ports, volumes and volume mounts merge by their Kubernetes merge keys, and other lists are
 * replaced. `$patch`/`$setElementOrder` directives are rejected rather than misread.
 */

/** A JSON value as YAML parses it. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: Json;
}

/** List fields whose items merge by a key (k8s.io/api patchMergeKey), as in kustomize. */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
  imagePullSecrets: "name",
};

/** True for a plain JSON object (not an array, not null). */
export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function mergeList(field: string, base: Json[], patch: Json[]): Json[] {
  const key = MERGE_KEYS[field];
  if (key === undefined) return structuredClone(patch);
  const out = structuredClone(base);
  const added: Json[] = [];
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) {
      throw new Error(`strategic merge: every "${field}" item in a patch needs its merge key "${key}"`);
    }
    const index = out.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    const existing = out[index];
    if (index === -1 || !isObject(existing)) added.push(structuredClone(item));
    else out[index] = strategicMerge(existing, item);
  }
  // kustomize (kyaml merge2) puts items that only the patch has before the existing ones.
  return [...added, ...out];
}

/** Returns `base` with `patch` applied (neither argument is modified). */
export function strategicMerge(base: JsonObject, patch: JsonObject): JsonObject {
  const out = structuredClone(base);
  for (const [field, value] of Object.entries(patch)) {
    if (field.startsWith("$")) throw new Error(`strategic merge: directive ${field} is not supported`);
    const current = out[field];
    if (value === null) delete out[field];
    else if (isObject(value) && isObject(current)) out[field] = strategicMerge(current, value);
    else if (Array.isArray(value) && Array.isArray(current)) out[field] = mergeList(field, current, value);
    else out[field] = structuredClone(value);
  }
  return out;
}
