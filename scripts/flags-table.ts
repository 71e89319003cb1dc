// Prints the README's flag reference from the one settings table the CLI is built from.
// `npm run docs:flags` — test/unit/readme.test.ts checks README.md lists every flag.
import { settingsTable } from '../src/config/index.js';

const rows = settingsTable().map((s) => {
  const flag = `\`${s.flag}\`${s.repeatable ? ' (repeatable)' : ''}`;
  const env = s.env ? `\`${s.env}\`` : '–';
  return `| ${flag} | ${env} | ${s.default || '–'} | ${s.help.replace(/\|/g, '\\|')} |`;
});
console.log(['| flag | environment | default | what it does |', '|---|---|---|---|', ...rows].join('\n'));
