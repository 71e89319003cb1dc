// @grpc-web/proxy (the Node peer), as its own CLI runs it, but bound to loopback only:
//   node bench/peer.cjs --target http://127.0.0.1:50051 --port 8081
// It opens a new HTTP/2 connection to the target for every call: that is the design being compared.
'use strict';
const proxy = require('@grpc-web/proxy');
const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const server = proxy({ target: arg('--target') }).listen(Number(arg('--port')), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
