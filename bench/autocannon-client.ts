// Fallback load generator when wrk is not installed: autocannon (a devDependency) in its own
// process, with the same request wrk would send. Prints BENCHJSON {...} like bench/wrk-unary.lua.
// autocannon is JavaScript: it needs more CPU per call than wrk, which on a small machine is
// taken from the proxy under test, so absolute figures are lower; ratios remain comparable.
//
//   --url http://127.0.0.1:8080/bench.Bench/Unary --body-file F --content-type T --connections 64
//   --duration-s 5 [--max-calls N]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number; mean: number; max: number };
  duration: number;
  throughput: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    'body-file': { type: 'string' },
    'content-type': { type: 'string', default: 'application/grpc-web+proto' },
    connections: { type: 'string', default: '64' },
    'duration-s': { type: 'string', default: '5' },
    'max-calls': { type: 'string' },
  },
});

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const opts: Record<string, unknown> = {
  url: values.url,
  method: 'POST',
  body: readFileSync(values['body-file']!),
  headers: { 'content-type': values['content-type'], 'x-grpc-web': '1', 'x-user-agent': 'grpc-web-javascript/0.1' },
  connections: Number(values.connections),
  duration: Number(values['duration-s']),
  timeout: 10,
};
if (values['max-calls']) opts['amount'] = Number(values['max-calls']);
const r = await autocannon(opts);
const result = {
  calls: r.requests.total,
  durationS: r.duration,
  bytes: r.throughput.total,
  errors: r.errors + r.timeouts + r.non2xx,
  timeouts: r.timeouts,
  statusErrors: r.non2xx,
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  meanMs: r.latency.mean,
  maxMs: r.latency.max,
};
process.stdout.write(`BENCHJSON ${JSON.stringify(result)}\n`);
process.exit(0);
