#!/usr/bin/env node
import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config/index.js';
import { MAX_WORKERS } from './config/settings.js';
import type { Config } from './config/types.js';
import { usableCpus } from './cluster/cpu-count.js';

/** argv → Config → gateway. Exit codes: 0 done, 1 runtime failure, 2 bad configuration. */
async function main(): Promise<void> {
  let result;
  try {
    result = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`grpc-web-gateway: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if ('help' in result) {
    process.stdout.write(result.help.endsWith('\n') ? result.help : `${result.help}\n`);
    return;
  }
  if ('version' in result) {
    process.stdout.write(`${result.text}\n`);
    return;
  }
  const config = result.config;
  const workers = config.workers === 'auto' ? usableCpus(MAX_WORKERS) : config.workers;
  // Imported on demand: the primary of --workers never loads grpc-js or the front end.
  if (cluster.isWorker) await (await import('./cluster/worker.js')).runWorker(config).catch(cannotStart);
  else if (workers > 1) await runPrimary(config, workers);
  else await runSingle(config);
}

function cannotStart(error: unknown): never {
  const e = error as NodeJS.ErrnoException;
  process.stderr.write(`grpc-web-gateway: cannot start: ${e.code ? `${e.code} ` : ''}${e.message}\n`);
  process.exit(1);
}

/** SIGTERM/SIGINT → graceful stop; a second signal → stop at once. */
function onSignals(graceful: () => void, now: () => void, log: (signal: string, second: boolean) => void): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    log(signal, signals > 1);
    if (signals > 1) now();
    else graceful();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function runSingle(config: Config): Promise<void> {
  const { startGateway } = await import('./gateway.js');
  const gateway = await startGateway(config).catch(cannotStart);
  onSignals(
    () =>
      gateway.shutdown().then(
        () => process.exit(0),
        (error: unknown) => {
          gateway.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      ),
    () => process.exit(1),
    (signal, second) =>
      second
        ? gateway.logger.warn({ signal }, 'second signal: exiting at once')
        : gateway.logger.info({ signal }, 'signal received'),
  );
}

async function runPrimary(config: Config, workers: number): Promise<void> {
  const { startPrimary } = await import('./cluster/primary.js');
  const primary = await startPrimary(config, workers).catch(cannotStart);
  onSignals(
    () => primary.shutdown(),
    () => primary.kill(),
    (signal, second) =>
      second
        ? primary.logger.warn({ signal }, 'second signal: killing the workers')
        : primary.logger.info({ signal }, 'signal received'),
  );
  process.exit(await primary.done);
}

main().catch((error: unknown) => {
  process.stderr.write(`grpc-web-gateway: ${(error as Error).message}\n`);
  process.exit(1);
});
