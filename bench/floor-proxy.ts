// A reference point, not a product: the least a Node gRPC-Web proxy of the gateway's design can
// do per call. node:http with no framework, one grpc-js Channel, Channel.createCall with the
// request body passed through as one message, binary mode only, no metadata, CORS, limits,
// logging or metrics. The gateway's CPU per call minus this one's is what Fastify and the
// gateway's own features cost.
//
//   node --import tsx bench/floor-proxy.ts --target 127.0.0.1:50051 --port 8082
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { listenAndAnnounce } from './lib/announce.js';

const { values } = parseArgs({ options: { target: { type: 'string' }, port: { type: 'string', default: '0' } } });
const channel = new grpc.Channel(`ipv4:${values.target}`, grpc.credentials.createInsecure(), {
  'grpc.enable_channelz': 0,
});
const EMPTY = new grpc.Metadata();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const call = channel.createCall(req.url!, Infinity, null, null, null);
    let headersSent = false;
    let corked = false;
    call.start(EMPTY.clone(), {
      onReceiveMetadata() {},
      onReceiveMessage(message: Buffer) {
        if (!headersSent) {
          headersSent = true;
          res.writeHead(200, { 'content-type': 'application/grpc-web+proto' });
        }
        if (!corked) {
          // Same single-writev answer as the gateway (see Exchange.onMessage).
          corked = true;
          res.cork();
          setImmediate(() => {
            if (corked) res.uncork();
            corked = false;
          });
        }
        const frame = Buffer.allocUnsafe(5 + message.length);
        frame[0] = 0;
        frame.writeUInt32BE(message.length, 1);
        message.copy(frame, 5);
        res.write(frame);
        call.startRead();
      },
      onReceiveStatus(status: grpc.StatusObject) {
        const text = Buffer.from(`grpc-status:${status.code}\r\ngrpc-message:${encodeURIComponent(status.details)}\r\n`);
        if (!headersSent) res.writeHead(200, { 'content-type': 'application/grpc-web+proto' });
        const frame = Buffer.allocUnsafe(5 + text.length);
        frame[0] = 0x80;
        frame.writeUInt32BE(text.length, 1);
        text.copy(frame, 5);
        corked = false;
        res.end(frame);
      },
    });
    call.sendMessageWithContext({}, body.subarray(5));
    call.halfClose();
    call.startRead();
  });
});
listenAndAnnounce(server, Number(values.port));
