/** Flags every service runs with (images, `npm start`, benchmarks). */
export const COMMON_NODE_FLAGS: readonly string[];
/** The node flags of `services/<name>`, in the order its CMD and start script list them. */
export function serviceNodeFlags(name: string): string[];
