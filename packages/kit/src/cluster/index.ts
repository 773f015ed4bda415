// Several worker processes of one service behind one port (`@obfy/kit/cluster`).
export {
  type ClusterEvent,
  type ClusterPrimary,
  type RestartPolicy,
  type RunClusterOptions,
  runCluster,
  WORKER_INDEX_ENV,
  type WorkerInfo,
  type WorkerStarted,
} from "./run-cluster.js";
export { MAX_WORKERS, readWorkers } from "./workers-config.js";
