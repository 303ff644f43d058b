/**
 * `doctor` against a real testbed: real sshd with pinned host keys, the Manager stand-in over HTTPS with a
 * pinned certificate, real Redis. Healthy → exit 0; a stopped sshd and a changed host key → named FAILs.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { runDoctor } from '../../src/doctor.js';
import { createLogger } from '../../src/log.js';
import { failHost, healHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';

const log = createLogger({ level: 'silent' });
const name = `doc${randomBytes(2).toString('hex')}`;
let tb: TestbedInfo;

async function doctor(): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  const cfg = loadConfig({ FLEXVDI_CONFIG: tb.inventoryPath, REDIS_URL: inject('redisUrl') });
  const code = await runDoctor(cfg, log, sink);
  return { code, out };
}

beforeAll(async () => {
  tb = await testbedUp({ name, hosts: 2, log });
}, 120_000);

afterAll(async () => {
  await testbedDown({ name, log });
}, 120_000);

describe('doctor', () => {
  it('passes on a healthy testbed, naming each check', async () => {
    const r = await doctor();
    expect(r.out).toMatch(/^ok\s+redis\s+redis:\/\/127\.0\.0\.1:\d+$/m);
    expect(r.out).toMatch(/^ok\s+manager\s+https:\/\/.*TLS pinned \(verified\), logged in/m);
    for (const h of tb.hosts)
      expect(r.out).toMatch(
        new RegExp(`^ok\\s+host ${h.name}\\s+ssh ok, key SHA256:\\S+, hostname ${h.fqdn}$`, 'm'),
      );
    expect(r.code).toBe(0);
  });

  it('fails, naming the Host, when its sshd is down or its host key changed', async () => {
    const [a, b] = tb.hosts;
    await failHost({ name, log, host: a!.name, mode: 'sshd-stop' });
    await failHost({ name, log, host: b!.name, mode: 'hostkey-change' });
    try {
      const r = await doctor();
      expect(r.code).toBe(1);
      expect(r.out).toMatch(new RegExp(`^FAIL\\s+host ${a!.name}\\s+.*(refused|connect)`, 'mi'));
      expect(r.out).toMatch(
        new RegExp(`^FAIL\\s+host ${b!.name}\\s+host key SHA256:\\S+ is DIFFERENT from the pin`, 'm'),
      );
      expect(r.out).toContain('2 check(s) failed');
    } finally {
      await healHost({ name, log, host: a!.name });
    }
  });
});
