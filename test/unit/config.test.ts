import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  exampleInventoryPath,
  loadConfig,
  parseInventory,
  requireSlackCredentials,
} from '../../src/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('config', () => {
  it('loads the shipped example inventory', () => {
    const cfg = loadConfig({ FLEXVDI_CONFIG: exampleInventoryPath });
    expect(cfg.inventory.hosts.map((h) => h.name)).toEqual(['host1', 'host2', 'host3']);
    expect(Object.isFrozen(cfg.inventory.hosts[0])).toBe(true);
    expect(cfg.inventory.ssh.privateKeyPath).toBe(
      path.join(path.dirname(exampleInventoryPath), 'keys/id_ed25519'),
    );
  });

  it('names the field and the reason for a bad inventory', () => {
    const bad = write(
      'bad.yaml',
      'manager: { url: https://m, username: a, password: { env: PW } }\nssh: { privateKeyPath: k, knownHostsPath: kh }\nhosts:\n  - { name: h1, fqdn: h1.x, ip: 10.0.0.300 }\n',
    );
    expect(() => loadConfig({ FLEXVDI_CONFIG: bad })).toThrow(/hosts\[0\]\.ip: must be an IPv4 address/);
    const dup = write(
      'dup.yaml',
      'manager: { url: https://m, username: a, password: { env: PW } }\nssh: { privateKeyPath: k, knownHostsPath: kh }\nhosts:\n  - { name: h1, fqdn: h1.x, ip: 10.0.0.1 }\n  - { name: H1, fqdn: h2.x, ip: 10.0.0.1 }\n',
    );
    expect(() => loadConfig({ FLEXVDI_CONFIG: dup })).toThrow(
      /hosts\[1\]\.name: duplicate name "h1".*hosts\[1\]\.ip: duplicate ip/,
    );
    expect(() => parseInventory('manager: [', 'x.yaml')).toThrow(/x.yaml: not valid YAML/);
    expect(() => loadConfig({ FLEXVDI_CONFIG: path.join(dir, 'nope.yaml') })).toThrow(
      /cannot read inventory file .*ENOENT/,
    );
    expect(() => loadConfig({})).toThrow(/FLEXVDI_CONFIG is not set/);
    expect(() => loadConfig({ FLEXVDI_CONFIG: exampleInventoryPath, REDIS_URL: 'http://x' })).toThrow(
      /environment: REDIS_URL: must start with redis:\/\//,
    );
  });

  it('has sound monitor defaults and refuses thresholds that would alert on a late line', () => {
    const base =
      'manager: { url: https://m, username: a, password: { env: PW } }\nssh: { privateKeyPath: k, knownHostsPath: kh }\n';
    expect(parseInventory(base, 'm.yaml').monitor).toMatchObject({
      heartbeatMs: 500,
      suspectAfterMs: 1500,
      lostAfterMs: 2500,
    });
    expect(() =>
      parseInventory(`${base}monitor: { suspectAfterMs: 3000, lostAfterMs: 2000 }\n`, 'm.yaml'),
    ).toThrow(/monitor\.suspectAfterMs: must be less than lostAfterMs \(2000\)/);
    expect(() => parseInventory(`${base}monitor: { heartbeatMs: 1000 }\n`, 'm.yaml')).toThrow(
      /monitor\.heartbeatMs: must be at most half of suspectAfterMs \(1500\)/,
    );
    expect(() => parseInventory(`${base}monitor: { lostAfterMs: 2500, typo: 1 }\n`, 'm.yaml')).toThrow(
      /monitor/,
    );
  });

  it('refuses a password written in the inventory text', () => {
    const inline = write(
      'inline.yaml',
      'manager: { url: https://m, username: a, password: hunter2 }\nssh: { privateKeyPath: k, knownHostsPath: kh }\n',
    );
    expect(() => loadConfig({ FLEXVDI_CONFIG: inline })).toThrow(/manager\.password/);
    const both = write(
      'both.yaml',
      'manager: { url: https://m, username: a, password: { env: A, file: b } }\nssh: { privateKeyPath: k, knownHostsPath: kh }\n',
    );
    expect(() => loadConfig({ FLEXVDI_CONFIG: both })).toThrow(/exactly one of `env`/);
  });

  it('resolves the Manager password on use and never prints it', () => {
    const cfg = loadConfig({ FLEXVDI_CONFIG: exampleInventoryPath, FLEXVDI_MANAGER_PASSWORD: 's3cret-pw' });
    const pw = cfg.managerPassword();
    expect(pw.reveal()).toBe('s3cret-pw');
    expect(`${pw}`).toBe('[redacted]');
    expect(JSON.stringify({ pw })).not.toContain('s3cret');
    const none = loadConfig({ FLEXVDI_CONFIG: exampleInventoryPath });
    expect(() => none.managerPassword()).toThrow(/FLEXVDI_MANAGER_PASSWORD is not set/);
  });

  it('missing Slack credentials are a clear error', () => {
    const cfg = loadConfig({ FLEXVDI_CONFIG: exampleInventoryPath });
    expect(() => requireSlackCredentials(cfg)).toThrow(
      /SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET.*--local-slack/,
    );
  });
});
