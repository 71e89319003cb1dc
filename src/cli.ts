#!/usr/bin/env node
import { ConfigError, loadConfig } from './config/index.js';
import { startGateway } from './gateway.js';

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

  let gateway;
  try {
    gateway = await startGateway(result.config);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    process.stderr.write(`grpc-web-gateway: cannot start: ${e.code ? `${e.code} ` : ''}${e.message}\n`);
    process.exit(1);
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      gateway.logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    gateway.logger.info({ signal }, 'signal received');
    gateway.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((error: unknown) => {
  process.stderr.write(`grpc-web-gateway: ${(error as Error).message}\n`);
  process.exit(1);
});
