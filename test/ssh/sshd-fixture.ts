/**
 * A real OpenSSH sshd on 127.0.0.1 for the SSH-layer tests: its own temp folder with freshly generated host
 * keys and client key, its own config, port and pid file; run in the foreground (`sshd -D -e`) as a child.
 *
 * The tests log in as root (what the product uses) but with `SetEnv HOME=<tmp>/home`: sshd applies SetEnv
 * after it sets HOME, so the bash that runs each command (Debian's bash sources ~/.bashrc when started by
 * sshd) reads the empty fixture home instead of this machine's /root/.bashrc, whose `pyenv init` would
 * add ~0.13 s and ~100 processes to every session. Nothing outside the temp folder is touched (apart from
 * creating sshd's privilege-separation folder /run/sshd if missing).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/local-redis.js';
import type { SshTarget } from '../../src/ssh/index.js';

const run = promisify(execFile);

export type HostKeyKind = 'ed25519' | 'ecdsa' | 'rsa';

export interface SshdOptions {
  label: string;
  maxSessions?: number;
  hostKeyKinds?: HostKeyKind[];
  /** Authorize this existing client key (several fixtures, one product key) instead of generating one. */
  clientKeyPath?: string;
}

export interface PublicKeyInfo {
  kind: HostKeyKind;
  keyType: string;
  keyBase64: string;
  pubPath: string;
}

export interface SshdFixture {
  port: number;
  dir: string;
  home: string;
  clientKeyPath: string;
  /** The server's current public host keys. */
  hostKeys(): Promise<PublicKeyInfo[]>;
  /** known_hosts lines pinning every current host key for 127.0.0.1 at this port. */
  knownHostsText(): Promise<string>;
  target(name?: string): SshTarget;
  /** Restarts sshd on the same port; existing connections are cut; optionally with new host keys. */
  restart(opts?: { newHostKeys?: boolean }): Promise<void>;
  /** Kills every session process (the product's connections see the server go away). */
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export async function startSshd(opts: SshdOptions): Promise<SshdFixture> {
  const kinds = opts.hostKeyKinds ?? ['ed25519'];
  const dir = await mkdtemp(path.join(tmpdir(), `flexvdi-sshd-${opts.label}-`));
  const home = path.join(dir, 'home');
  mkdirSync(home);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const clientKeyPath = opts.clientKeyPath ?? path.join(dir, 'client_ed25519');
  if (!opts.clientKeyPath) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'flexvdi-test', '-f', clientKeyPath]);
  }
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(`${clientKeyPath}.pub`));
  const hostKeyPath = (k: HostKeyKind) => path.join(dir, `ssh_host_${k}_key`);
  const generateHostKeys = async () => {
    for (const k of kinds) {
      await rm(hostKeyPath(k), { force: true });
      await rm(`${hostKeyPath(k)}.pub`, { force: true });
      await run('ssh-keygen', [
        '-q',
        '-t',
        k,
        ...(k === 'rsa' ? ['-b', '2048'] : []),
        '-N',
        '',
        '-f',
        hostKeyPath(k),
      ]);
    }
  };
  await generateHostKeys();
  const config = [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    ...kinds.map((k) => `HostKey ${hostKeyPath(k)}`),
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    `MaxSessions ${opts.maxSessions ?? 10}`,
    'MaxStartups 200:30:400',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    `SetEnv HOME=${home}`,
    'Subsystem sftp /usr/lib/openssh/sftp-server',
  ].join('\n');
  const cfgPath = path.join(dir, 'sshd_config');
  await writeFile(cfgPath, `${config}\n`);

  let child: ChildProcess | undefined;
  let logText = '';
  const start = async () => {
    const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfgPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${logText}`)), 10_000);
      proc.stderr?.on('data', (d) => {
        logText = (logText + String(d)).slice(-64_000);
        if (logText.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited with ${code}:\n${logText}`));
      });
    });
  };
  await start();

  /** Pids of every process below sshd (connection monitors, session children, commands they run). */
  const descendants = async (root: number): Promise<number[]> => {
    const parent = new Map<number, number>();
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid) parent.set(Number(entry), ppid);
    }
    const found: number[] = [];
    const walk = (p: number) => {
      for (const [pid, pp] of parent) {
        if (pp === p) {
          found.push(pid);
          walk(pid);
        }
      }
    };
    walk(root);
    return found;
  };
  const dropConnections = async () => {
    if (!child?.pid) return;
    for (const pid of await descendants(child.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  };
  const stopChild = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await dropConnections();
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  };

  const hostKeys = async (): Promise<PublicKeyInfo[]> =>
    Promise.all(
      kinds.map(async (kind) => {
        const pubPath = `${hostKeyPath(kind)}.pub`;
        const [keyType, keyBase64] = (await readFile(pubPath, 'utf8')).trim().split(/\s+/);
        return { kind, keyType: keyType!, keyBase64: keyBase64!, pubPath };
      }),
    );

  return {
    port,
    dir,
    home,
    clientKeyPath,
    hostKeys,
    async knownHostsText() {
      const keys = await hostKeys();
      return keys.map((k) => `[127.0.0.1]:${port} ${k.keyType} ${k.keyBase64}\n`).join('');
    },
    target: (name = `sshd-${opts.label}`) => ({ name, host: '127.0.0.1', port }),
    async restart(o = {}) {
      await stopChild();
      if (o.newHostKeys) await generateHostKeys();
      await start();
    },
    dropConnections,
    async stop() {
      await stopChild();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => logText,
  };
}
