import { defineConfig } from 'vitest/config';
// @ts-expect-error: a plain ES module without type declarations
import { viteAssets } from './scripts/assets.mjs';

export default defineConfig({
  // src/ imports the dashboard's files as text, as the esbuild bundle does.
  plugins: [viteAssets],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // e2e tests start real processes on loopback; each file picks its own ports.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the timing-sensitive e2e tests flaky.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
