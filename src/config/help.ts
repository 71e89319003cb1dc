// --help: every setting of the table, grouped, with its environment variable and default.
import { defaultText, envName, GROUPS, SETTINGS } from './settings.js';

function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** Usage and every setting with its environment variable and default. */
export function helpText(): string {
  const out: string[] = [
    'Usage: grpc-web-gateway [FLAGS]',
    '',
    'Proxies gRPC-Web calls from browsers to gRPC servers, spreading every call over the Pods behind',
    'each upstream. At least one of --upstream and --route is required.',
    '',
    ...wrap(
      'Every flag can also be set by its environment variable or as a key of the YAML file given by ' +
        '--config (the flag name without dashes). Precedence: flags > environment > YAML file > defaults. ' +
        'A repeatable flag may be given several times; in the environment separate its values with spaces, ' +
        'in YAML give a list; a higher source replaces the whole list of a lower one.',
      '',
    ),
    '',
    'DURATION: 500ms, 5s, 1m30s, 1h (0 where allowed).  BYTES: 1048576, 512KiB, 4MiB, 4MB (= 4000000).',
    'TARGET: HOST:PORT[,HOST:PORT...] (static; IPv6 as [::1]:50051), dns:///NAME:PORT (re-resolved) or',
    '  k8s:///SERVICE.NAMESPACE:PORT (the Service\'s EndpointSlices, watched; PORT a number or a port name).',
  ];
  for (const group of GROUPS) {
    out.push('', `${group}:`);
    for (const s of SETTINGS.filter((x) => x.group === group)) {
      let usage: string;
      if (s.kind === 'bool') usage = `--${s.name}, --no-${s.name}`;
      else usage = s.metavar === '' ? `--${s.name}` : `--${s.name} ${s.metavar}`;
      if (s.repeatable) usage += '  (repeatable)';
      out.push(`  ${usage}`);
      out.push(...wrap(s.help, '      '));
      const facts: string[] = [];
      if (!s.noEnv) facts.push(`env ${envName(s.name)}${s.envAlias ? ` or ${s.envAlias}` : ''}`);
      const d = defaultText(s);
      if (d !== '') facts.push(`default: ${d}`);
      if (facts.length > 0) out.push(...wrap(`[${facts.join('; ')}]`, '      '));
    }
  }
  return `${out.join('\n')}\n`;
}
