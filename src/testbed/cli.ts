/**
 * `flexvdi-chatops testbed up|down|status|fail|heal|replace` — the command line over the testbed API.
 * Exit codes: 0 done, 1 failed (message on stderr), 2 bad usage.
 */
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { asAppError } from '../errors.js';
import { testbedDown } from './down.js';
import { describeFaultOptions } from './fault-options.js';
import { failHost, healHost, replaceHost } from './faults.js';
import { FAULT_MODES, type FaultMode } from './state.js';
import { listTestbeds, type ManagerStatus, type TestbedStatus, testbedStatus } from './status.js';
import { testbedUp } from './up.js';

export const TESTBED_USAGE = `usage: flexvdi-chatops testbed <command> [--name ID] [--state-root DIR]
  up [--hosts N] [--odd-bridges host3[,host4]] [--disk-size 2G] [--disks 1]
     [--fail-threshold-ms 60000] [--heartbeat-ms 2000]     start N Hosts + Manager stand-in, write the inventory
     [--manager-on host1|<host>|standalone]               the Manager as a guest of that Host (default host1)
     [--manager-lease-ms 20000]                          or in a namespace of its own; its lease time
  down                                                    remove everything the testbed made
  status [--json]                                         show Hosts, sshd, links, faults
  fail <host> [--mode] link-down|freeze|sshd-stop|hostkey-change|jitter|slow
       jitter: [--pause-ms 1000] [--every-ms 3000]        freeze the Host for that long that often, until healed
       slow:   [--cpu-percent 10]                         the Host gets that share of one core
  heal <host>                                             undo the Host's fault
  replace <host>                                          fresh Host: same name + IP, new host key, empty state`;

export interface TestbedCliDeps {
  log: Logger;
  /** Where results go (default: process.stdout). */
  out?: (text: string) => void;
  err?: (text: string) => void;
}

class UsageError extends Error {}

function int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a whole number, got "${v}"`);
  return Number(v);
}

function describeManager(m: ManagerStatus): string {
  if (m.mode === 'standalone') return `${m.url} standalone, ${m.running ? 'running' : 'NOT RUNNING'}`;
  const others = m.instances.filter((h) => h !== m.runningOn);
  const where =
    (m.runningOn ? `guest of ${m.runningOn}` : 'NOT RUNNING on any Host') +
    (others.length ? ` (an old instance still on ${others.join(', ')})` : '');
  const lease = m.lease
    ? `lease ${m.lease.owner} until ${new Date(m.lease.expiresMs).toISOString()}${m.lease.expired ? ' (expired)' : ''}`
    : 'no lease';
  return `${m.url} ${where}; ${lease}`;
}

function formatStatus(s: TestbedStatus): string {
  if (!s.exists) return `testbed "${s.name}" is not up (${s.stateDir})`;
  const lines = [
    `testbed "${s.name}" (${s.phase}) — state ${s.stateDir}`,
    `inventory: ${s.inventoryPath ?? '(not written)'}`,
    `manager:   ${s.manager ? describeManager(s.manager) : '-'}`,
    'host      ip              running  link  sshd  frozen  fault',
  ];
  for (const h of s.hosts) {
    const yn = (b: boolean) => (b ? 'yes' : 'no');
    lines.push(
      `${h.name.padEnd(9)} ${h.ip.padEnd(15)} ${yn(h.running).padEnd(8)} ${(h.linkUp ? 'up' : 'down').padEnd(5)} ` +
        `${yn(h.sshd).padEnd(5)} ${yn(h.frozen).padEnd(7)} ${h.fault ?? '-'}` +
        (h.faultOptions ? ` (${describeFaultOptions(h.faultOptions)})` : '') +
        (h.fault === 'jitter' && !h.jitterRunning ? ' — its pauser is NOT RUNNING' : ''),
    );
  }
  return lines.join('\n');
}

export async function testbedCli(argv: string[], deps: TestbedCliDeps): Promise<number> {
  const out = deps.out ?? ((t: string) => process.stdout.write(`${t}\n`));
  const err = deps.err ?? ((t: string) => process.stderr.write(`${t}\n`));
  const [command, ...rest] = argv;
  try {
    const { values: v, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        'state-root': { type: 'string' },
        hosts: { type: 'string' },
        'odd-bridges': { type: 'string', multiple: true },
        'disk-size': { type: 'string' },
        disks: { type: 'string' },
        'fail-threshold-ms': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'manager-on': { type: 'string' },
        'manager-lease-ms': { type: 'string' },
        mode: { type: 'string' },
        'pause-ms': { type: 'string' },
        'every-ms': { type: 'string' },
        'cpu-percent': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    const ref = {
      log: deps.log,
      ...(v.name !== undefined ? { name: v.name } : {}),
      ...(v['state-root'] !== undefined ? { stateRoot: v['state-root'] } : {}),
    };
    const host = () => {
      // `fail <host> <mode>` as well as `fail <host> --mode <mode>`
      const max = command === 'fail' && v.mode === undefined ? 2 : 1;
      if (positionals.length < 1 || positionals.length > max)
        throw new UsageError(`${command} needs exactly one Host name${max === 2 ? ' and a mode' : ''}`);
      return positionals[0]!;
    };
    if (command !== 'fail' && command !== 'heal' && command !== 'replace' && positionals.length) {
      throw new UsageError(`unexpected argument "${positionals[0]}"`);
    }
    switch (command) {
      case 'up': {
        const opt = (k: string, val: number | undefined) => (val === undefined ? {} : { [k]: val });
        const r = await testbedUp({
          ...ref,
          ...opt('hosts', int(v.hosts, '--hosts')),
          ...opt('disks', int(v.disks, '--disks')),
          ...opt('failThresholdMs', int(v['fail-threshold-ms'], '--fail-threshold-ms')),
          ...opt('heartbeatIntervalMs', int(v['heartbeat-ms'], '--heartbeat-ms')),
          ...opt('managerLeaseMs', int(v['manager-lease-ms'], '--manager-lease-ms')),
          manager:
            (v['manager-on'] ?? 'host1') === 'standalone' ? 'standalone' : { on: v['manager-on'] ?? 'host1' },
          ...(v['disk-size'] !== undefined ? { diskSize: v['disk-size'] } : {}),
          ...(v['odd-bridges']
            ? { oddBridges: v['odd-bridges'].flatMap((s) => s.split(',')).filter(Boolean) }
            : {}),
        });
        if (v.json) out(JSON.stringify(r));
        else {
          out(
            `testbed "${r.name}" ${r.created ? 'is up' : 'was already up'}: ${r.hosts.length} Hosts, Manager ${r.managerUrl}`,
          );
          for (const h of r.hosts) out(`  ${h.name.padEnd(8)} ${h.ip.padEnd(15)} ${h.fqdn}`);
          out(`inventory: ${r.inventoryPath}`);
          out(`  FLEXVDI_CONFIG=${r.inventoryPath}`);
        }
        return 0;
      }
      case 'down': {
        const r = await testbedDown(ref);
        out(r.removed ? `testbed "${r.name}" removed` : `testbed "${r.name}" was not up; nothing to remove`);
        return 0;
      }
      case 'status': {
        const s = await testbedStatus(ref);
        out(v.json ? JSON.stringify(s) : formatStatus(s));
        const others = listTestbeds().filter((t) => t.name !== s.name);
        if (!v.json && v.name === undefined && others.length) {
          out(`other testbeds: ${others.map((t) => `${t.name} (${t.subnet})`).join(', ')} — use --name`);
        }
        return 0;
      }
      case 'fail': {
        const name = host();
        const mode = (v.mode ?? positionals[1]) as FaultMode | undefined;
        if (!mode || !FAULT_MODES.includes(mode))
          throw new UsageError(`--mode must be one of ${FAULT_MODES.join(', ')}`);
        await failHost({
          ...ref,
          host: name,
          mode,
          pauseMs: int(v['pause-ms'], '--pause-ms'),
          everyMs: int(v['every-ms'], '--every-ms'),
          cpuPercent: int(v['cpu-percent'], '--cpu-percent'),
        });
        const s = (await testbedStatus(ref)).hosts.find((h) => h.name === name);
        out(`${name}: ${mode}${s?.faultOptions ? ` (${describeFaultOptions(s.faultOptions)})` : ''}`);
        return 0;
      }
      case 'heal':
        await healHost({ ...ref, host: host() });
        out(`${host()}: healed`);
        return 0;
      case 'replace': {
        const r = await replaceHost({ ...ref, host: host() });
        out(
          `${r.host} (${r.ip}) replaced: new host key ${r.hostKeyFingerprint} (known_hosts still pins the old one)`,
        );
        return 0;
      }
      default:
        throw new UsageError(command ? `unknown testbed command "${command}"` : 'missing testbed command');
    }
  } catch (e) {
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`${(e as Error).message}\n${TESTBED_USAGE}`);
      return 2;
    }
    const a = asAppError(e);
    err(`testbed ${command}: ${a.message}`);
    return 1;
  }
}
