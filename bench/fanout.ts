/**
 * bench/fanout: one command on 16 and on 32 testbed Hosts with the product's SSH layer (ssh2 pool + fanout)
 * versus parallel-ssh (Debian pssh), clush (clustershell) and ansible ad-hoc (ansible-core), side by side on
 * the same Hosts; then 10 commands per Host (the product: one connection per Host) versus parallel-ssh run
 * 10 times; then the wall time of a full `register-host` into a cluster of 16 and of 32 Hosts.
 *
 * Fairness: every tool checks host keys strictly against the same known_hosts (the testbed's pins), uses
 * the same key, user and parallelism (--par, default 32: every Host at once). Each OpenSSH-based peer runs
 * twice: with OpenSSH 9.2's defaults (post-quantum sntrup761x25519 key exchange) and with the key exchange
 * the product negotiates (ssh2 offers no post-quantum exchange; printed below). ansible starts cold each run
 * (fresh ControlPath folder) and keeps its ControlMaster reuse within a run, as it does by default.
 * Rounds interleave the tools so machine noise hits all alike; medians are printed. Client CPU (user+sys of
 * the tool's processes; of this process for the product, which is a resident worker: no start-up) is
 * printed beside wall time: on one machine the Hosts' sshd share its 2 cores, so wall time understates what
 * a client-side saving is worth on a real cluster.
 *
 * Set-up: installs pssh, clustershell and ansible-core with apt-get when missing, brings up its own fresh testbed
 * ("bench-fanout", 32 Hosts) and takes it down at the end (--keep leaves it for a look).
 * Run (as root): npx tsx bench/fanout.ts [--rounds 5] [--rounds10 3] [--par 32] [--keep] [--register-only]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { type Config, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { MonitorBoard } from '../src/monitor/board.js';
import { createServices, targetOf } from '../src/services.js';
import { createSshPool, fanout, readKnownHosts, type SshTarget } from '../src/ssh/index.js';
import { testbedDown, testbedUp } from '../src/testbed/index.js';
import { registry, runCommand } from './run-command.js';
import { arg, median } from './stats.js';

const ROUNDS = arg('rounds', 5);
const ROUNDS10 = arg('rounds10', 3);
const PAR = arg('par', 32);
const KEEP = process.argv.includes('--keep');
const REGISTER_ONLY = process.argv.includes('--register-only');
const NAME = 'bench-fanout';
const log = createLogger({ level: 'warn' });

function ensureTools(): void {
  const missing = ['parallel-ssh', 'clush', 'ansible'].filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0,
  );
  if (!missing.length) return;
  console.log(`installing pssh clustershell ansible-core (missing: ${missing.join(', ')})…`);
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  const r = spawnSync(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', 'pssh', 'clustershell', 'ansible-core'],
    {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
  if (r.status !== 0) throw new Error('apt-get install failed');
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** Runs a peer (argv) through bash so `times` reports the CPU of all its processes; fails on a non-zero exit. */
function runPeer(argv: string[], env: Record<string, string> = {}): Promise<Sample> {
  const script = '"$@" >"$ERRF" 2>&1; rc=$?; times; exit $rc';
  const errf = path.join(work, 'peer.err');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', script, 'peer', ...argv], { env: { ...process.env, ...env, ERRF: errf } });
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
    });
    p.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0)
        return reject(new Error(`${argv[0]} exited ${code}: ${readFileSync(errf, 'utf8').slice(-800)}`));
      const secs = [...(out.trim().split('\n')[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map(
        (m) => Number(m[1]) * 60 + Number(m[2]),
      );
      resolve({ wallMs, cpuMs: (secs[0]! + secs[1]!) * 1000 });
    });
  });
}

async function inProcess(fn: () => Promise<void>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

let work = '';
let config: Config;

function productPool() {
  const inv = config.inventory;
  return createSshPool({
    privateKey: inv.ssh.privateKeyPath,
    knownHostsPath: inv.ssh.knownHostsPath,
    user: 'root',
    connectTimeoutMs: 15_000,
    commandTimeoutMs: 60_000,
    log,
  });
}

/** The product: a fresh pool (cold connections), `commands` commands per Host in sequence, all Hosts at once. */
function product(targets: SshTarget[], commands: number): Promise<Sample> {
  return inProcess(async () => {
    const pool = productPool();
    const res = await fanout(
      targets,
      async (t) => {
        for (let i = 0; i < commands; i++) await pool.exec(t, 'true');
      },
      { concurrency: PAR },
    );
    await pool.close();
    const bad = res.find((r) => !r.ok);
    if (bad && !bad.ok) throw bad.error;
  });
}

const sshOpts = (kex?: string) => [
  'StrictHostKeyChecking=yes',
  `UserKnownHostsFile=${config.inventory.ssh.knownHostsPath}`,
  'BatchMode=yes',
  ...(kex ? [`KexAlgorithms=${kex}`] : []),
];

function pssh(n: number, kex?: string): Promise<Sample> {
  const o = sshOpts(kex).flatMap((x) => ['-O', x]);
  return runPeer([
    'parallel-ssh',
    '-h',
    path.join(work, `hosts${n}`),
    '-p',
    String(PAR),
    '-l',
    'root',
    '-t',
    '60',
    '-x',
    `-i ${config.inventory.ssh.privateKeyPath}`,
    ...o,
    'true',
  ]);
}

function clush(n: number, kex?: string): Promise<Sample> {
  const ips = config.inventory.hosts.slice(0, n).map((h) => h.ip);
  const o = `${sshOpts(kex)
    .map((x) => `-o${x}`)
    .join(' ')} -i ${config.inventory.ssh.privateKeyPath}`;
  return runPeer([
    'clush',
    '-S',
    '-w',
    ips.join(','),
    '-f',
    String(PAR),
    '-l',
    'root',
    '-O',
    `ssh_options=${o}`,
    'true',
  ]);
}

/** ansible ad-hoc, cold: a fresh ControlPath folder; its ControlMasters are told to exit afterwards. */
async function ansible(n: number, kex?: string): Promise<Sample> {
  const cp = mkdtempSync(path.join(work, 'cp-'));
  const sshArgs = `-C -o ControlMaster=auto -o ControlPersist=60s ${sshOpts(kex)
    .map((x) => `-o ${x}`)
    .join(' ')}`;
  try {
    return await runPeer(
      [
        'ansible',
        `g${n}`,
        '-i',
        path.join(work, 'ansible.ini'),
        '-f',
        String(PAR),
        '-m',
        'command',
        '-a',
        'true',
        '-u',
        'root',
        '--private-key',
        config.inventory.ssh.privateKeyPath,
      ],
      {
        ANSIBLE_HOST_KEY_CHECKING: 'True',
        ANSIBLE_SSH_ARGS: sshArgs,
        ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
        ANSIBLE_LOCAL_TEMP: cp,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCALHOST_WARNING: 'False',
      },
    );
  } finally {
    for (const sock of readdirSync(cp)) {
      spawnSync('ssh', ['-o', `ControlPath=${path.join(cp, sock)}`, '-O', 'exit', 'ignored'], {
        stdio: 'ignore',
      });
    }
  }
}

async function pssh10(n: number, kex?: string): Promise<Sample> {
  const total = { wallMs: 0, cpuMs: 0 };
  for (let i = 0; i < 10; i++) {
    const s = await pssh(n, kex);
    total.wallMs += s.wallMs;
    total.cpuMs += s.cpuMs;
  }
  return total;
}

/** The key exchange, cipher and host key format ssh2 (the product) negotiates with a Host's sshd. */
async function negotiated(t: SshTarget): Promise<{ kex: string; cipher: string; hostKey: string }> {
  const kh = await readKnownHosts(config.inventory.ssh.knownHostsPath);
  const pinned = kh.entries.filter((e) => e.hostField.split(',').includes(t.host)).map((e) => e.keyBase64);
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => {
      c.end();
      resolve();
    });
    c.on('error', reject);
    c.connect({
      host: t.host,
      port: t.port,
      username: 'root',
      privateKey: readFileSync(config.inventory.ssh.privateKeyPath),
      hostVerifier: (key: Buffer) => pinned.includes(key.toString('base64')),
      debug: (m: string) => lines.push(m),
    });
  });
  const find = (re: RegExp) => lines.map((l) => re.exec(l)?.[1]).find(Boolean) ?? '?';
  return {
    kex: find(/^Handshake: KEX algorithm: (\S+)/),
    cipher: find(/^Handshake: C->S Cipher: (\S+)/),
    hostKey: find(/^Handshake: Host key format: (\S+)/),
  };
}

const fmt = (s: Sample) =>
  `${(s.wallMs / 1000).toFixed(2)} s wall, ${(s.cpuMs / 1000).toFixed(2)} s client CPU`;

async function main() {
  ensureTools();
  console.log(`testbed "${NAME}" with 32 Hosts…`);
  await testbedDown({ name: NAME, log }); // a fresh one: no Host registered yet
  const tb = await testbedUp({ name: NAME, hosts: 32, heartbeatIntervalMs: 10_000, log });
  try {
    config = loadConfig({ FLEXVDI_CONFIG: tb.inventoryPath });
    work = mkdtempSync(path.join(tmpdir(), 'bench-fanout-'));
    const hosts = config.inventory.hosts;
    for (const n of [16, 32])
      writeFileSync(
        path.join(work, `hosts${n}`),
        `${hosts
          .slice(0, n)
          .map((h) => h.ip)
          .join('\n')}\n`,
      );
    writeFileSync(
      path.join(work, 'ansible.ini'),
      [
        '[g32]',
        ...hosts.map((h) => `${h.name} ansible_host=${h.ip}`),
        '[g16]',
        ...hosts.slice(0, 16).map((h) => h.name),
        '',
      ].join('\n'),
    );
    const neg = await negotiated(targetOf(hosts[0]!));
    console.log(
      `product (ssh2) negotiates: kex ${neg.kex}, cipher ${neg.cipher}, host key ${neg.hostKey}; parallelism ${PAR}`,
    );
    const KEX = neg.kex;
    const cases: Record<string, (n: number) => Promise<Sample>> = {
      product: (n) => product(hosts.slice(0, n).map(targetOf), 1),
      'parallel-ssh (defaults)': (n) => pssh(n),
      [`parallel-ssh (${KEX})`]: (n) => pssh(n, KEX),
      'clush (defaults)': (n) => clush(n),
      [`clush (${KEX})`]: (n) => clush(n, KEX),
      'ansible (defaults)': (n) => ansible(n),
      [`ansible (${KEX})`]: (n) => ansible(n, KEX),
    };
    const cases10: Record<string, (n: number) => Promise<Sample>> = {
      'product, 10 commands per Host': (n) => product(hosts.slice(0, n).map(targetOf), 10),
      'parallel-ssh × 10 (defaults)': (n) => pssh10(n),
      [`parallel-ssh × 10 (${KEX})`]: (n) => pssh10(n, KEX),
    };
    const results = new Map<string, Sample[]>();
    const add = (k: string, s: Sample) => results.set(k, [...(results.get(k) ?? []), s]);
    for (const [table, rounds] of [
      [cases, REGISTER_ONLY ? 0 : ROUNDS],
      [cases10, REGISTER_ONLY ? 0 : ROUNDS10],
    ] as const) {
      for (let r = 0; r < rounds; r++) {
        for (const n of [16, 32])
          for (const [name, fn] of Object.entries(table)) add(`${n}|${name}`, await fn(n));
        process.stdout.write(`  round ${r + 1}/${rounds} done\n`);
      }
    }
    const med = (k: string): Sample => {
      const xs = results.get(k)!;
      return { wallMs: median(xs.map((x) => x.wallMs)), cpuMs: median(xs.map((x) => x.cpuMs)) };
    };
    for (const n of REGISTER_ONLY ? [] : [16, 32]) {
      console.log(`\n== one command (\`true\`) on ${n} Hosts, median of ${ROUNDS} ==`);
      const p = med(`${n}|product`);
      for (const name of Object.keys(cases)) {
        const s = med(`${n}|${name}`);
        const ratio =
          name === 'product'
            ? ''
            : `   product/peer: wall ${(p.wallMs / s.wallMs).toFixed(2)}×, CPU ${(p.cpuMs / s.cpuMs).toFixed(2)}×`;
        console.log(`  ${name.padEnd(40)} ${fmt(s)}${ratio}`);
      }
      console.log(
        `  goals: ≤ 1.0× parallel-ssh (${KEX}): ${(p.wallMs / med(`${n}|parallel-ssh (${KEX})`).wallMs).toFixed(2)}×; ` +
          `≤ 0.5× parallel-ssh (defaults): ${(p.wallMs / med(`${n}|parallel-ssh (defaults)`).wallMs).toFixed(2)}×; ` +
          `≥ 5× faster than ansible (defaults): ${(med(`${n}|ansible (defaults)`).wallMs / p.wallMs).toFixed(1)}×`,
      );
      console.log(`\n== 10 commands per Host on ${n} Hosts, median of ${ROUNDS10} ==`);
      const p10 = med(`${n}|product, 10 commands per Host`);
      for (const name of Object.keys(cases10))
        console.log(`  ${name.padEnd(40)} ${fmt(med(`${n}|${name}`))}`);
      console.log(
        `  goal ≥ 10× faster than parallel-ssh × 10: ${(med(`${n}|parallel-ssh × 10 (defaults)`).wallMs / p10.wallMs).toFixed(1)}× ` +
          `(defaults), ${(med(`${n}|parallel-ssh × 10 (${KEX})`).wallMs / p10.wallMs).toFixed(1)}× (${KEX})`,
      );
    }

    console.log('\n== register-host: into a cluster of 16 and of 32 Hosts (plan + steps, no Slack/queue) ==');
    let live = createServices(config, log);
    const seed0 = performance.now();
    for (const h of hosts) {
      if (h.name === 'host16' || h.name === 'host32') {
        // measured: fresh pool and Manager session (cold), as a registration minutes after the last one
        await live.ssh.close();
        live = createServices(config, log);
      }
      const r = await runCommand(
        'register-host',
        { host: h.name },
        // register-host never reads the monitor's board (and this benchmark has no Redis)
        registry.services({ config, log, board: {} as MonitorBoard, ...live }),
      );
      if (h.name !== 'host16' && h.name !== 'host32') continue;
      const steps = Object.entries(r.stepMs).map(([k, v]) => `${k} ${v} ms`);
      console.log(
        `  ${h.name} (cluster of ${h.name.slice(4)}): ${(r.totalMs / 1000).toFixed(2)} s — plan ${r.planMs} ms, ${steps.join(', ')}`,
      );
      console.log(`    ${r.summary}`);
    }
    const all = ((performance.now() - seed0) / 1000).toFixed(1);
    console.log(`  (all 32 registrations, one after the other: ${all} s)`);
    await live.ssh.close();
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
    if (!KEEP) await testbedDown({ name: NAME, log });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
