// How files that are not modules become part of the bundle: the dashboard's page.html and
// page.css are inlined as text, and an import ending in "?script" (the dashboard's browser code,
// written in TypeScript) is bundled on its own for the browser and inlined as text. One
// definition, used by the esbuild bundle (scripts/bundle.mjs) and by vitest (vitest.config.ts),
// so that the tests load the same page that dist/ serves. Type declarations: src/types/assets.d.ts.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TEXT = /\.(html|css)$/;
const SCRIPT = /\?script$/;

/** The browser script at `path`, bundled into one classic script (an IIFE, no module loader). */
export async function browserScript(path) {
  const out = await build({
    entryPoints: [path],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    logLevel: 'silent',
  });
  // Inline in a <script> element: "</script" inside it would end the element early.
  return out.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
}

/** The text a TEXT or SCRIPT import stands for, or null for any other path. */
export async function assetText(path) {
  if (SCRIPT.test(path)) return browserScript(path.replace(SCRIPT, ''));
  if (TEXT.test(path)) return readFileSync(path, 'utf8');
  return null;
}

/** esbuild: the plugin for scripts/bundle.mjs. */
export const esbuildAssets = {
  name: 'gwg-assets',
  setup(b) {
    b.onResolve({ filter: SCRIPT }, (args) => ({
      path: fileURLToPath(new URL(args.path, pathToFileURL(`${args.resolveDir}/`))) + '?script',
      namespace: 'gwg-script',
    }));
    b.onLoad({ filter: /.*/, namespace: 'gwg-script' }, async (args) => ({
      contents: await browserScript(args.path.replace(SCRIPT, '')),
      loader: 'text',
      watchFiles: [args.path.replace(SCRIPT, '')],
    }));
    b.onLoad({ filter: TEXT }, (args) => ({ contents: readFileSync(args.path, 'utf8'), loader: 'text' }));
  },
};

/**
 * Vite (vitest): the same. The ids are resolved to virtual ones ("\0gwg-asset:" + the absolute path
 * + ".asset"): an id that still ended in ".css" would be emptied by vitest's own CSS handling.
 */
const VIRTUAL = '\0gwg-asset:';
const SUFFIX = '.asset';
export const viteAssets = {
  name: 'gwg-assets',
  enforce: 'pre',
  resolveId(source, importer) {
    if (!importer || !(SCRIPT.test(source) || TEXT.test(source))) return null;
    const url = new URL(source, pathToFileURL(importer));
    return VIRTUAL + fileURLToPath(url) + url.search + SUFFIX;
  },
  async load(id) {
    if (!id.startsWith(VIRTUAL)) return null;
    return `export default ${JSON.stringify(await assetText(id.slice(VIRTUAL.length, -SUFFIX.length)))};`;
  },
};
