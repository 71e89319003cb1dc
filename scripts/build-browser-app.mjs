#!/usr/bin/env node
// Bundles examples/browser-app/app.ts (grpc-web runtime + @bufbuild/protobuf) into
// examples/browser-app/dist/app.js for the demo and the browser tests. Takes well under a second.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../examples/browser-app/', import.meta.url));
await build({
  entryPoints: [dir + 'app.ts'],
  outfile: dir + 'dist/app.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110'],
  sourcemap: 'linked',
  minify: false,
  logLevel: 'warning',
});
