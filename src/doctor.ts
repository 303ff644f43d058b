/**
 * `flexvdi-chatops doctor`: is everything this deployment needs reachable and trustworthy? Redis, the
 * Manager (TLS pin, login), and every Host (SSH reachable, host key equal to the pin, login works, hostname
 * as expected). Prints a table; exits 1 when any check fails.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { asAppError } from './errors.js';
import { assertRedisReachable } from './jobs/redis.js';
import { createServices, targetOf } from './services.js';
import { fanout } from './ssh/index.js';

export interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

export async function doctorChecks(config: Config, log: Logger): Promise<Check[]> {
  const checks: Check[] = [];
  if (config.redisUrl) {
    try {
      await assertRedisReachable(config.redisUrl);
      checks.push({ what: 'redis', ok: true, detail: config.redisUrl.replace(/\/\/[^@/]*@/, '//***@') });
    } catch (err) {
      checks.push({ what: 'redis', ok: false, detail: asAppError(err).message });
    }
  } else {
    checks.push({
      what: 'redis',
      ok: true,
      detail: 'REDIS_URL not set: `start` runs a private redis-server',
    });
  }
  const { ssh, manager } = createServices(config, log);
  try {
    const ping = await manager.ping();
    checks.push({
      what: 'manager',
      ok: ping.ok,
      detail: ping.ok
        ? `${ping.url}: TLS ${ping.tls.mode}${ping.tls.verified ? ' (verified)' : ' (NOT verified)'}, logged in, ${ping.hostCount ?? '?'} Hosts`
        : `${ping.url}: ${ping.error?.userMessage ?? 'failed'}`,
    });
    const results = await fanout(
      config.inventory.hosts.map(targetOf),
      async (t) => {
        const probe = await ssh.probeHostKey(t);
        if (probe.pinned !== 'match') {
          return {
            ok: false,
            detail: `host key ${probe.fingerprint} is ${probe.pinned === 'unknown' ? 'not pinned' : 'DIFFERENT from the pin'} (${config.inventory.ssh.knownHostsPath})`,
          };
        }
        const r = await ssh.exec(t, ['hostname', '-f'], { timeoutMs: 10_000 });
        const name = r.stdout.trim();
        const expected = config.inventory.hosts.find((h) => h.name === t.name)!.fqdn;
        const same = name.toLowerCase() === expected.toLowerCase();
        return {
          ok: same,
          detail: same
            ? `ssh ok, key ${probe.fingerprint}, hostname ${name}`
            : `hostname is "${name}", inventory says "${expected}"`,
        };
      },
      { concurrency: config.inventory.ssh.concurrency },
    );
    for (const r of results) {
      checks.push(
        r.ok
          ? { what: `host ${r.target.name}`, ...r.value }
          : { what: `host ${r.target.name}`, ok: false, detail: r.error.userMessage },
      );
    }
  } finally {
    await ssh.close();
    await manager.logout().catch(() => {});
  }
  return checks;
}

export async function runDoctor(
  config: Config,
  log: Logger,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const checks = await doctorChecks(config, log);
  const w = Math.max(...checks.map((c) => c.what.length));
  for (const c of checks) out.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.what.padEnd(w)}  ${c.detail}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  out.write(failed ? `\n${failed} check(s) failed\n` : '\nall checks passed\n');
  return failed ? 1 : 0;
}
