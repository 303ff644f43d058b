import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { freePort } from '../../src/local-redis.js';
import { fanout, type SshPool, type SshTarget } from '../../src/ssh/index.js';
import { poolFor, rejectsWith } from './helpers.js';
import { type SshdFixture, startSshd } from './sshd-fixture.js';

let a: SshdFixture;
let b: SshdFixture;
let pool: SshPool;
let dir: string;

beforeAll(async () => {
  a = await startSshd({ label: 'files-a' });
  b = await startSshd({ label: 'files-b', clientKeyPath: a.clientKeyPath });
  const knownHosts = path.join(a.dir, 'known_hosts');
  await writeFile(knownHosts, (await a.knownHostsText()) + (await b.knownHostsText()));
  pool = poolFor(a, knownHosts);
  dir = path.join(a.dir, 'etc');
  await pool.exec(a.target(), ['mkdir', '-p', dir]);
});

afterAll(async () => {
  await pool?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

const leftovers = async () => (await readdir(dir)).filter((n) => n.includes('.tmp.'));

describe('writeFileAtomic / readFile', () => {
  it('creates, leaves identical content alone, replaces by rename with a backup', async () => {
    const file = path.join(dir, 'cluster.conf');
    const v1 = 'cluster:\n\tnode_count = 2\n\tname = flexvdi\n';
    expect(await pool.readFile(a.target(), file)).toBeNull();

    expect(await pool.writeFileAtomic(a.target(), file, v1, { backup: true })).toEqual({
      changed: true,
      backupPath: undefined,
    });
    expect(await readFile(file, 'utf8')).toBe(v1);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    await chmod(file, 0o640);
    const first = await stat(file);

    // Same bytes: nothing written, no backup, same inode and mtime.
    expect(await pool.writeFileAtomic(a.target(), file, v1, { backup: true })).toEqual({
      changed: false,
      backupPath: undefined,
    });
    const same = await stat(file);
    expect([same.ino, same.mtimeMs]).toEqual([first.ino, first.mtimeMs]);

    const v2 = v1.replace('2', '3');
    const res = await pool.writeFileAtomic(a.target(), file, v2, { backup: true });
    expect(res.changed).toBe(true);
    expect(res.backupPath).toMatch(/cluster\.conf\.bak\.\d{8}T\d{6}\.\d{3}Z$/);
    expect(await readFile(res.backupPath!, 'utf8')).toBe(v1);
    expect(await pool.readFile(a.target(), file)).toBe(v2);
    const second = await stat(file);
    expect(second.ino).not.toBe(first.ino);
    expect(second.mode & 0o777).toBe(0o640);

    // Without backup: replaced, no new .bak file.
    await pool.writeFileAtomic(a.target(), file, `${v2}\n`);
    expect((await readdir(dir)).filter((n) => n.includes('.bak.'))).toHaveLength(1);
    expect(await leftovers()).toEqual([]);
  });

  it('applies an explicit mode, also to unchanged content, and keeps binary content intact', async () => {
    const file = path.join(dir, 'o2cb');
    await pool.writeFileAtomic(a.target(), file, 'O2CB_ENABLED=true\n', { mode: 0o600 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(
      (await pool.writeFileAtomic(a.target(), file, 'O2CB_ENABLED=true\n', { mode: 0o644 })).changed,
    ).toBe(false);
    expect((await stat(file)).mode & 0o777).toBe(0o644);

    const bin = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    await pool.writeFileAtomic(a.target(), path.join(dir, 'blob'), bin);
    const { stdout } = await pool.exec(a.target(), ['sha256sum', path.join(dir, 'blob')]);
    expect(stdout.split(' ')[0]).toBe(createHash('sha256').update(bin).digest('hex'));
  });

  it('fails clearly: relative path, missing folder, a directory', async () => {
    await rejectsWith(pool.writeFileAtomic(a.target(), 'etc/x', 'x'), 'ssh.invalid_argument');
    const missing = await rejectsWith(
      pool.writeFileAtomic(a.target('host2'), path.join(dir, 'nope', 'x.conf'), 'x'),
      'ssh.command_failed',
    );
    expect(missing.message).toMatch(/host2.*No such file/);
    await rejectsWith(pool.readFile(a.target(), dir), 'ssh.command_failed');
    await rejectsWith(pool.writeFileAtomic(a.target(), dir, 'x'), 'ssh.invalid_argument');
    expect(await leftovers()).toEqual([]);
  });
});

describe('fanout', () => {
  it('runs on every Host; one Host down does not stop the others, and is named', async () => {
    const deadPort = await freePort();
    const keyLine = (await a.knownHostsText()).split(' ').slice(1).join(' ');
    const knownHosts = path.join(a.dir, 'known_hosts_fanout');
    await writeFile(
      knownHosts,
      (await a.knownHostsText()) + (await b.knownHostsText()) + `[127.0.0.1]:${deadPort} ${keyLine}`,
    );
    const p = poolFor(a, knownHosts);
    const targets: SshTarget[] = [
      a.target('host1'),
      { name: 'host2', host: '127.0.0.1', port: deadPort },
      b.target('host3'),
    ];
    try {
      const results = await fanout(targets, (t) => p.exec(t, 'echo $SSH_CONNECTION'), { concurrency: 2 });
      expect(results.map((r) => [r.target.name, r.ok])).toEqual([
        ['host1', true],
        ['host2', false],
        ['host3', true],
      ]);
      const [r1, r2, r3] = results;
      if (!r1?.ok || r2?.ok !== false || !r3?.ok) throw new Error('unexpected shape');
      expect(r1.value.stdout).toContain(` ${a.port}`);
      expect(r3.value.stdout).toContain(` ${b.port}`);
      expect(r2.error.code).toBe('ssh.connect_failed');
      expect(r2.error.message).toContain('host2');
    } finally {
      await p.close();
    }
  });

  it('keeps to the concurrency limit and the input order', async () => {
    const targets = Array.from({ length: 9 }, (_, i) => ({ name: `h${i}` }));
    let running = 0;
    let peak = 0;
    const results = await fanout(
      targets,
      async (t) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20 - Number(t.name.slice(1))));
        running--;
        if (t.name === 'h4') throw new Error('boom');
        return t.name.toUpperCase();
      },
      { concurrency: 3 },
    );
    expect(peak).toBe(3);
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([
      'H0',
      'H1',
      'H2',
      'H3',
      'internal.error',
      'H5',
      'H6',
      'H7',
      'H8',
    ]);
    const failed = results[4]!;
    expect(!failed.ok && failed.error instanceof AppError && failed.error.message).toBe('boom');
  });

  it('stops starting Hosts on abort: the rest are job.cancelled, running ones see the signal', async () => {
    const ctl = new AbortController();
    const seen: string[] = [];
    const results = await fanout(
      Array.from({ length: 5 }, (_, i) => ({ name: `h${i}` })),
      (t, signal) =>
        new Promise<string>((resolve, reject) => {
          seen.push(t.name);
          if (t.name === 'h1') ctl.abort();
          if (signal?.aborted) reject(new AppError('job.cancelled', 'stopped'));
          else resolve(t.name);
        }),
      { concurrency: 1, signal: ctl.signal },
    );
    expect(seen).toEqual(['h0', 'h1']);
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([
      'h0',
      'job.cancelled',
      'job.cancelled',
      'job.cancelled',
      'job.cancelled',
    ]);
  });
});
