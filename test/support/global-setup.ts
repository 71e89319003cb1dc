// Tests that run the gateway as users do (`node dist/cli.js`, the bundle) need dist/ to match src/.
// `npm ci` builds it (prepare); this rebuilds it once per test run so a stale build can't pass.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  // For quick local reruns against a dist/ you just built.
  if (process.env.GWG_TEST_SKIP_BUILD === '1') return;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  // What `npm run build` does: the esbuild bundle (dist/*.js), then the declarations.
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
