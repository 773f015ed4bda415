/**
 * Reads the sampling heap profiles written by bench/lib/alloc-sampler.mjs: bytes per call, split
 * by area of the code (the same areas as the CPU profiles, bench/profile.ts). Allocations made by
 * V8 builtins (`Map`, `Array.prototype.slice`, …) count towards the nearest JavaScript caller's
 * area, so a `new Map()` inside grpc-js is grpc-js's.
 */
import { readFileSync } from "node:fs";
import { areaOf } from "../profile.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

interface AllocNode {
  callFrame: CallFrame;
  selfSize: number;
  children: AllocNode[];
}

/** What a sampled window allocated, per call. */
export interface AllocationSummary {
  /** Bytes per call, all areas. */
  readonly bytesPerCall: number;
  /** Bytes per call by area, largest first. */
  readonly byArea: readonly { area: string; bytesPerCall: number }[];
  /** The functions (with file and line) that allocated most, bytes per call, largest first. */
  readonly topFunctions: readonly { name: string; bytesPerCall: number }[];
}

function frameName(frame: CallFrame): string {
  const file = frame.url
    .replace(/^.*node_modules\//, "")
    .replace(/^.*\/(packages|services|bench)\//, "$1/")
    .replace(/^file:\/\//, "");
  return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
}

/** Sums `file` (a `.heapprofile`) and divides by `calls`. */
export function summariseAllocations(file: string, calls: number, top = 8): AllocationSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { head: AllocNode };
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  // Iterative walk: allocation trees of a busy server are deep.
  const stack: { node: AllocNode; owner: CallFrame | undefined }[] = [{ node: profile.head, owner: undefined }];
  while (stack.length > 0) {
    const { node, owner: inherited } = stack.pop() as { node: AllocNode; owner: CallFrame | undefined };
    const owner = node.callFrame.url !== "" ? node.callFrame : inherited;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const frame = owner ?? node.callFrame;
      const area = owner ? areaOf(owner) : areaOf(node.callFrame);
      byArea.set(area, (byArea.get(area) ?? 0) + node.selfSize);
      const name = frameName(frame);
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    }
    for (const child of node.children) stack.push({ node: child, owner });
  }
  const perCall = (bytes: number): number => bytes / Math.max(calls, 1);
  return {
    bytesPerCall: perCall(total),
    byArea: [...byArea].sort((a, b) => b[1] - a[1]).map(([area, bytes]) => ({ area, bytesPerCall: perCall(bytes) })),
    topFunctions: [...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => ({ name, bytesPerCall: perCall(bytes) })),
  };
}
