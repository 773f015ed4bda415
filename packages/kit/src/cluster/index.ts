export { answerMetricsRequests, collectClusterMetrics, WORKER_METRICS_TIMEOUT_MS } from "./cluster-metrics.js";
export * from "./run-cluster.js";
export * from "./workers-config.js";
