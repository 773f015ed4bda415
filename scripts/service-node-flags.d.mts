/** The node flags every deployable runs with (images, `npm start`, benchmarks). */
export const SERVICE_NODE_FLAGS: readonly string[];
