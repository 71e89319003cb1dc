// A program that embeds the gateway, as a user's would: it imports dist/gateway.js (the package's
// "main"), builds its Config with loadConfig, starts the gateway, and on one command read from
// stdin stops it and then simply returns. Nothing else keeps it alive, so it must exit by itself
// once the gateway has stopped; if it has not WATCHDOG_MS after the command (or the failed
// start), it reports what is still alive (process.getActiveResourcesInfo()) and exits 3.
//
//   node test/support/embedded-gateway.mjs '["--upstream","127.0.0.2:50051",...]'
//
// stdout: one JSON line per event: {event:"started",httpUrl,adminUrl} | {event:"start-failed",message}
// | {event:"stopped",ms} | {event:"still-alive",resources}. stdin commands (one line):
// "shutdown", "close", or "close-during-shutdown" (shutdown(), then close() while it runs).
import { createInterface } from 'node:readline';
import { loadConfig, startGateway } from '../../dist/gateway.js';

const WATCHDOG_MS = 20_000;

const report = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

/** Unref'd: it never keeps the process alive itself, it only reports what does. */
function watchdog() {
  setTimeout(() => {
    report({ event: 'still-alive', resources: process.getActiveResourcesInfo() });
    process.exit(3);
  }, WATCHDOG_MS).unref();
}

// Only GWG_UPSTREAM_CLIENT passes (test/support/upstream-options.ts testGatewayEnv says why).
const env = process.env.GWG_UPSTREAM_CLIENT ? { GWG_UPSTREAM_CLIENT: process.env.GWG_UPSTREAM_CLIENT } : {};
const result = loadConfig(JSON.parse(process.argv[2] ?? '[]'), env);
if (!('config' in result)) throw new Error('expected gateway flags');

let gateway;
try {
  gateway = await startGateway(result.config, { logger: false });
} catch (error) {
  report({ event: 'start-failed', message: error.message });
  watchdog();
}

if (gateway) {
  report({ event: 'started', httpUrl: gateway.httpUrl, adminUrl: gateway.adminUrl });
  const lines = createInterface({ input: process.stdin });
  const command = await new Promise((resolve) => lines.once('line', resolve));
  // Stop reading stdin: from here on only the gateway could keep the process alive.
  lines.close();
  process.stdin.destroy();
  watchdog();
  const started = Date.now();
  if (command === 'shutdown') await gateway.shutdown();
  else if (command === 'close') await gateway.close();
  else if (command === 'close-during-shutdown') {
    // shutdown() is in its --shutdown-delay when close() comes.
    const graceful = gateway.shutdown();
    await gateway.close();
    await graceful;
  } else throw new Error(`unknown command ${command}`);
  report({ event: 'stopped', ms: Date.now() - started });
}
