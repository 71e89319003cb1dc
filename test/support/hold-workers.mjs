// Loaded with NODE_OPTIONS=--import=<this file> into `node dist/cli.js --workers N` (cluster
// workers inherit the environment): each worker whose cluster id is listed in
// GWG_TEST_HOLD_WORKERS (e.g. "1,2") prints {"held":ID,"pid":PID} and never goes on to load the
// gateway, so it stays a worker that is still starting, with no signal handler of its own,
// for as long as a test needs: the moment a Ctrl-C or SIGTERM can catch a real worker in.
import cluster from 'node:cluster';

const held = (process.env.GWG_TEST_HOLD_WORKERS ?? '').split(',').filter(Boolean).map(Number);
if (cluster.isWorker && held.includes(cluster.worker.id)) {
  process.stdout.write(`${JSON.stringify({ held: cluster.worker.id, pid: process.pid })}\n`);
  // A timer keeps the held worker alive (an unsettled top-level await alone would exit 13).
  await new Promise(() => setInterval(() => {}, 60_000));
}
