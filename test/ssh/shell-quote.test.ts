import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SshPool, shellJoin, shellQuote } from '../../src/ssh/index.js';
import { poolFor } from './helpers.js';
import { type SshdFixture, startSshd } from './sshd-fixture.js';

let f: SshdFixture;
let pool: SshPool;
let pwned: string;

beforeAll(async () => {
  f = await startSshd({ label: 'quote' });
  const knownHosts = path.join(f.dir, 'known_hosts');
  await writeFile(knownHosts, await f.knownHostsText());
  pool = poolFor(f, knownHosts);
  pwned = path.join(f.dir, 'pwned');
});

afterAll(async () => {
  await pool?.close();
  await f?.stop();
});

const hostile = () => [
  `$(touch ${pwned})`,
  `\`touch ${pwned}\``,
  `; touch ${pwned}`,
  `' ; touch ${pwned}; '`,
  `"; touch ${pwned}; "`,
  `a\nb; touch ${pwned}\n`,
  `&& touch ${pwned}`,
  `| touch ${pwned}`,
  `> ${pwned}`,
  `\${IFS}touch\${IFS}${pwned}`,
  `$((1+1)) $HOME ~ * ? [a] {a,b} !! \\ \t end`,
  "it's",
  "''",
  '',
  '-n',
  'ñandú 🚀 — «» 日本',
];

describe('shellQuote', () => {
  it('leaves plain words alone and single-quotes everything else', () => {
    expect(shellQuote('/etc/ocfs2/cluster.conf')).toBe('/etc/ocfs2/cluster.conf');
    expect(shellQuote('--config-file=/x')).toBe("'--config-file=/x'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe("''");
    expect(() => shellQuote('a\0b')).toThrow(TypeError);
    expect(shellJoin(['echo', 'a b'])).toBe("echo 'a b'");
  });

  it('makes shell metacharacters inert on a real sshd: every argument arrives byte for byte', async () => {
    const args = hostile();
    // printf '%s\0' prints each argument followed by NUL: the exact argv the remote command received.
    const res = await pool.exec(f.target(), ['printf', '%s\\0', ...args]);
    expect(res.stdout.split('\0').slice(0, -1)).toEqual(args);
    for (const arg of args) {
      const one = await pool.exec(f.target(), ['sh', '-c', 'printf %s "$1"', 'sh', arg]);
      expect(one.stdout).toBe(arg);
    }
    await expect(access(pwned)).rejects.toThrow();
  });

  it('quotes a leading assignment so it is a command name, not an environment variable', async () => {
    const res = await pool.exec(f.target(), ['FLEXVDI_X=1', 'true'], { allowNonZero: true });
    expect(res.code).toBe(127);
  });
});
