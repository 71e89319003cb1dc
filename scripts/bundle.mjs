// dist/ as users run it: src/ bundled with its dependencies by esbuild into a few ES modules
// (dist/cli.js, dist/gateway.js and shared chunks), minified, with source maps beside them.
//
// Why a bundle: loading fastify, grpc-js, prom-client and pino as ~600 separate modules keeps
// each module's wrapper, source text and resolution state alive; as one minified graph the
// gateway idles in 15-20 MiB less RSS (see the Performance section of README.md). The image then
// needs no node_modules at all. Types: `tsc -p tsconfig.build.json` (declarations only) then writes dist/**/*.d.ts.
//
//   node scripts/bundle.mjs [OUTDIR]   (default dist/; part of `npm run build` and of `prepare`)
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { esbuildAssets } from './assets.mjs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = resolve(root, process.argv[2] ?? 'dist');

// Chunks have hashed names: start from an empty dist/ (tsc writes the .d.ts files after this).
rmSync(outdir, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  // cli: the command; gateway: startGateway for programs that embed it (package.json "main").
  entryPoints: ['src/cli.ts', 'src/gateway.ts'],
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  // Shared code and the lazily imported parts (the --workers primary, the worker, the
  // gateway) become chunks, so the primary never loads grpc-js or the front end.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Names are minified too (keepNames would cost ~10 MiB of RSS): the source maps beside the
  // files turn stack traces back into src/ and node_modules/ lines under
  // `node --enable-source-maps dist/cli.js`.
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  // The dependencies are CommonJS and call require() for Node's built-ins, which an ES module
  // does not have: give every output file one.
  banner: { js: "import { createRequire as __gwgCreateRequire } from 'node:module'; const require = __gwgCreateRequire(import.meta.url);" },
  // The dashboard's page.html, page.css and browser script, inlined as text (see assets.mjs).
  plugins: [esbuildAssets],
  logLevel: 'warning',
});
