import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResolvConf, readResolvConf } from '../../../../src/upstream/resolver/resolv-conf.js';

describe('parseResolvConf', () => {
  it('parses what Kubernetes writes into a Pod', () => {
    const conf = parseResolvConf(
      ['search default.svc.cluster.local svc.cluster.local cluster.local', 'nameserver 10.96.0.10', 'options ndots:5', ''].join('\n'),
    );
    expect(conf).toEqual({
      nameservers: [{ host: '10.96.0.10', port: 53 }],
      search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      ndots: 5,
    });
  });

  it('handles IPv6 nameservers, ports, comments, options, and glibc limits', () => {
    const conf = parseResolvConf(
      [
        '# generated',
        '; another comment',
        'nameserver 2001:db8::53',
        'nameserver [::1]:5353',
        'nameserver 127.0.0.1#5354',
        'nameserver 10.0.0.4 # fourth: ignored like glibc MAXNS=3',
        'nameserver not-an-ip',
        'domain example.org',
        'options ndots:2 timeout:3 attempts:2 rotate edns0',
        '   options   ndots:99  ',
      ].join('\r\n'),
    );
    expect(conf.nameservers).toEqual([
      { host: '2001:db8::53', port: 53 },
      { host: '::1', port: 5353 },
      { host: '127.0.0.1', port: 5354 },
    ]);
    expect(conf.search).toEqual(['example.org']);
    expect(conf.ndots).toBe(15); // capped like glibc
    expect(conf.timeoutMs).toBe(3000);
    expect(conf.attempts).toBe(2);
  });

  it('lets the last of search/domain win and strips trailing dots', () => {
    expect(parseResolvConf('search a.example. b.example\ndomain c.example').search).toEqual(['c.example']);
    expect(parseResolvConf('domain c.example\nsearch a.example. b.example').search).toEqual(['a.example', 'b.example']);
  });

  it('defaults: ndots 1, nothing else', () => {
    expect(parseResolvConf('')).toEqual({ nameservers: [], search: [], ndots: 1 });
    expect(parseResolvConf('options ndots:x timeout: attempts:-1').ndots).toBe(1);
  });
});

describe('readResolvConf', () => {
  it('a missing file gives the defaults with 127.0.0.1:53, like glibc', async () => {
    const conf = await readResolvConf('/nonexistent/dir/resolv.conf');
    expect(conf).toEqual({ nameservers: [{ host: '127.0.0.1', port: 53 }], search: [], ndots: 1 });
  });

  it('reads a file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'resolv-'));
    try {
      const file = path.join(dir, 'resolv.conf');
      await writeFile(file, 'nameserver 127.0.0.1#5300\nsearch ns.svc.cluster.local\noptions ndots:5\n');
      expect(await readResolvConf(file)).toEqual({
        nameservers: [{ host: '127.0.0.1', port: 5300 }],
        search: ['ns.svc.cluster.local'],
        ndots: 5,
      });
      // A file with no nameserver line: the local resolver.
      await writeFile(file, 'search x\n');
      expect((await readResolvConf(file)).nameservers).toEqual([{ host: '127.0.0.1', port: 53 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
