/**
 * The testbed's pure parts: key files, names derived from the testbed name, sizes, the inventory text, the
 * timing faults' options.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/config.js';
import { parseSize } from '../../src/testbed/common-files.js';
import {
  describeFaultOptions,
  JITTER_DEFAULTS,
  parseFaultOptions,
  SLOW_DEFAULTS,
} from '../../src/testbed/fault-options.js';
import { inventoryText, knownHostsText } from '../../src/testbed/inventory.js';
import { hostLayout, layoutFor, MAX_HOSTS, preferredOctet, tagOf } from '../../src/testbed/layout.js';
import { generateEd25519 } from '../../src/testbed/ssh-keys.js';
import type { TestbedState } from '../../src/testbed/state.js';
import { runCmd } from '../testbed/helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-testbed-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateEd25519', () => {
  it('writes the files ssh-keygen writes: same public key derived, same fingerprint', async () => {
    const k = generateEd25519('root@host1');
    const file = path.join(dir, 'id');
    writeFileSync(file, k.privateKey, { mode: 0o600 });
    writeFileSync(`${file}.pub`, `${k.publicKey}\n`);
    const derived = await runCmd('ssh-keygen', ['-y', '-f', file]);
    expect(derived.code).toBe(0);
    expect(derived.stdout.trim().split(' ').slice(0, 2).join(' ')).toBe(k.publicKeyBare);
    const fp = await runCmd('ssh-keygen', ['-l', '-f', `${file}.pub`]);
    expect(fp.stdout).toBe(`256 ${k.fingerprint} root@host1 (ED25519)\n`);
    expect(generateEd25519('x').publicKeyBare).not.toBe(k.publicKeyBare);
  });
});

describe('layout', () => {
  it('derives every name from the testbed name, within the kernel’s 15-character interface limit', () => {
    const t = layoutFor('some-long-testbed-name-0123', '/s/x', 77, MAX_HOSTS);
    expect(t.tag).toBe(tagOf('some-long-testbed-name-0123'));
    expect(t.bridge).toBe(`fvtb${t.tag}`);
    const ifaces = [t.bridge, t.managerVeth, ...t.hosts.map((h) => h.veth)];
    expect(Math.max(...ifaces.map((n) => n.length))).toBeLessThanOrEqual(15);
    expect(new Set(ifaces).size).toBe(ifaces.length);
    expect(t.hosts[63]).toMatchObject({ name: 'host64', ip: '10.230.77.74', fqdn: 'host64.flexvdi.test' });
    expect(hostLayout(t, 2).netns).toBe(`fvtb-${t.tag}-host2`);
    expect(t.managerIp).toBe('10.230.77.2');
    expect(tagOf('a')).not.toBe(tagOf('b'));
    for (const n of ['a', 'b', 'default', 'vt-core']) expect(preferredOctet(n)).toBeGreaterThanOrEqual(1);
  });

  it('parses disk sizes', () => {
    expect(parseSize('2G')).toBe(2 * 2 ** 30);
    expect(parseSize('512M')).toBe(512 * 2 ** 20);
    expect(parseSize('3GiB')).toBe(3 * 2 ** 30);
    expect(() => parseSize('1M')).toThrow(/below 64M/);
    expect(() => parseSize('two')).toThrow(/must look like/);
  });
});

describe('inventory', () => {
  it('is valid for the product and pins every Host by IP, name and FQDN', () => {
    const hosts = [1, 2].map((i) => ({
      name: `host${i}`,
      fqdn: `host${i}.flexvdi.test`,
      ip: `10.230.5.${10 + i}`,
      hostKey: generateEd25519('k').publicKeyBare,
      hostKeyFingerprint: 'SHA256:x',
      flexvdiPublicKey: 'ssh-ed25519 AAAA flexvdi@h',
      oddBridges: false,
      fault: null,
      generation: 0,
    }));
    const state: TestbedState = {
      version: 1,
      name: 'u',
      tag: 'abcd',
      octet: 5,
      stateDir: dir,
      phase: 'up',
      createdAt: '',
      options: {
        hosts: 2,
        oddBridges: [],
        diskSize: '2G',
        disks: 1,
        failThresholdMs: 1,
        heartbeatIntervalMs: 1,
      },
      hosts,
      manager: { url: 'https://10.230.5.2', fingerprint256: Array(32).fill('AB').join(':') },
    };
    const inv = parseInventory(inventoryText(state), path.join(dir, 'inventory.yaml'));
    expect(inv.ssh.privateKeyPath).toBe(path.join(dir, 'keys', 'id_ed25519'));
    expect(inv.manager.password).toEqual({ file: path.join(dir, 'manager', 'password') });
    expect(knownHostsText(hosts).split('\n')[1]).toBe(
      `10.230.5.12,host2,host2.flexvdi.test ${hosts[1]!.hostKey}`,
    );
  });
});

describe('timing fault options', () => {
  const refused = (mode: string, raw: Parameters<typeof parseFaultOptions>[1]) => {
    try {
      parseFaultOptions(mode, raw);
    } catch (err) {
      return { code: (err as { code?: string }).code, message: (err as Error).message };
    }
    throw new Error(`${mode} ${JSON.stringify(raw)} was accepted`);
  };

  it('fills in the defaults: jitter pauses 1000 ms every 3000 ms, slow gives 10 % of one core', () => {
    expect(parseFaultOptions('jitter')).toEqual({ pauseMs: 1000, everyMs: 3000 });
    expect(parseFaultOptions('jitter', { pauseMs: 500 })).toEqual({ pauseMs: 500, everyMs: 3000 });
    expect(parseFaultOptions('jitter', { everyMs: 1200 })).toEqual({ pauseMs: 1000, everyMs: 1200 });
    expect(parseFaultOptions('slow')).toEqual({ cpuPercent: 10 });
    expect(parseFaultOptions('slow', { cpuPercent: 1 })).toEqual({ cpuPercent: 1 });
    expect(parseFaultOptions('slow', { cpuPercent: 100 })).toEqual({ cpuPercent: 100 });
    expect([JITTER_DEFAULTS, SLOW_DEFAULTS]).toEqual([{ pauseMs: 1000, everyMs: 3000 }, { cpuPercent: 10 }]);
    for (const mode of ['link-down', 'freeze', 'sshd-stop', 'hostkey-change'])
      expect(parseFaultOptions(mode, {})).toBeNull();
  });

  it('refuses a pause that leaves the Host no time to run, naming both options and the rule', () => {
    for (const raw of [
      { pauseMs: 3000, everyMs: 3000 },
      { pauseMs: 4000, everyMs: 3000 },
      { pauseMs: 2950, everyMs: 3000 },
      { pauseMs: 1000, everyMs: 500 },
    ]) {
      const e = refused('jitter', raw);
      expect(e.code).toBe('testbed.invalid_options');
      expect(e.message).toBe(
        `pauseMs (${raw.pauseMs}) must be at least 100 ms less than everyMs (${raw.everyMs}): ` +
          'the Host has to run between pauses (for a Host that never runs, use the freeze fault)',
      );
    }
    expect(parseFaultOptions('jitter', { pauseMs: 2900, everyMs: 3000 })).toEqual({
      pauseMs: 2900,
      everyMs: 3000,
    });
  });

  it('refuses values out of bounds or not whole', () => {
    expect(refused('jitter', { pauseMs: 10 }).message).toBe(
      'pauseMs must be a whole number from 50 to 60000, got 10',
    );
    expect(refused('jitter', { pauseMs: 60_001, everyMs: 100_000 }).message).toMatch(
      /^pauseMs must be .* got 60001$/,
    );
    expect(refused('jitter', { pauseMs: 1.5 }).message).toMatch(/^pauseMs must be a whole number/);
    expect(refused('jitter', { everyMs: 600_001 }).message).toBe(
      'everyMs must be a whole number from 1 to 600000, got 600001',
    );
    expect(refused('jitter', { everyMs: Number.NaN }).message).toMatch(/^everyMs must be a whole number/);
    expect(refused('slow', { cpuPercent: 0 }).message).toBe(
      'cpuPercent must be a whole number from 1 to 100, got 0',
    );
    expect(refused('slow', { cpuPercent: 101 }).code).toBe('testbed.invalid_options');
    expect(refused('slow', { cpuPercent: 2.5 }).code).toBe('testbed.invalid_options');
  });

  it("refuses another fault's option instead of ignoring it", () => {
    expect(refused('slow', { pauseMs: 500 }).message).toBe(
      'pauseMs (--pause-ms) is not an option of fault slow (slow takes only cpuPercent (--cpu-percent))',
    );
    expect(refused('jitter', { cpuPercent: 10 }).message).toBe(
      'cpuPercent (--cpu-percent) is not an option of fault jitter ' +
        '(jitter takes only pauseMs (--pause-ms) and everyMs (--every-ms))',
    );
    expect(refused('freeze', { everyMs: 3000 }).message).toBe(
      'everyMs (--every-ms) is not an option of fault freeze (freeze takes none)',
    );
    // absent is absent, whatever the caller's object says
    expect(parseFaultOptions('freeze', { pauseMs: undefined, cpuPercent: undefined })).toBeNull();
  });

  it('describes the options as status shows them', () => {
    expect(describeFaultOptions({ pauseMs: 1000, everyMs: 3000 })).toBe('1000 ms every 3000 ms');
    expect(describeFaultOptions({ cpuPercent: 10 })).toBe('10 % of one core');
    expect(describeFaultOptions(null)).toBe('');
  });
});
