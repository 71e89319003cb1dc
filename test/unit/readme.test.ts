// README.md must stay true: every setting the CLI has is documented there, with its
// environment variable, and the commands it tells a newcomer to run exist.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settingsTable } from '../../src/config/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};

describe('README.md', () => {
  it('documents every flag and its environment variable', () => {
    for (const s of settingsTable()) {
      expect(readme, s.flag).toContain(`\`${s.flag}\``);
      if (s.env) expect(readme, s.env).toContain(`\`${s.env}\``);
    }
  });

  it('names only npm scripts that exist', () => {
    const named = [...readme.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]!);
    for (const script of named) expect(Object.keys(pkg.scripts), `npm run ${script}`).toContain(script);
  });

  it('gives npm test as the test command', () => {
    expect(readme).toContain('npm test');
    expect(pkg.scripts.test).toBeDefined();
  });
});
