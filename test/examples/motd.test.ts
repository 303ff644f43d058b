/**
 * The example motd plugin (examples/plugins/motd, docs/plugin-guide.md) on a test-scoped testbed: real sshd
 * Hosts, the Manager stand-in with host1 and host2 registered (host3 is in the inventory only), the Slack
 * double and a runtime with `[...builtinPlugins, motd]`. Files are read inside the Hosts, not through the
 * product. Covers: plan → Confirm → every registered Host has the text with exactly one backup; the same
 * command again is a no-op; `motd show` and its findings; a Host that cannot be reached in the first attempt
 * (a retryable error) is finished by the automatic retry while the Host already written is skipped (per-Host
 * sub-checkpoint); hostile text from the user and from a Host reaches Slack escaped; the plugin's API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { motdPlugin } from '../../examples/plugins/motd/index.js';
import type { Config } from '../../src/config.js';
import { createRegistry } from '../../src/core/registry.js';
import { AppError, ErrorCode } from '../../src/errors.js';
import type { MonitorBoard } from '../../src/monitor/board.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { createServices } from '../../src/services.js';
import type { SshPool } from '../../src/ssh/index.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { configOf, quietLog, registerWithManager } from '../ocfs2/helpers.js';
import { eventually, messageText, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { blocksText, OPS, type Stack, startStack } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import { intercept } from '../support/intercept.js';

const NAME = 'ex-motd';
const TEXT = 'Maintenance on Sunday 02:00-04:00 UTC';
let tb: TestbedInfo;
let config: Config;
let s: Stack;
let stockMotd: string | null;

/** When set, the next run of `motd set`'s write step cannot reach host2 (`ssh.connect_failed`, retryable). */
let host2DownOnce = false;
const failingHost2 = (ssh: SshPool): SshPool => ({
  ...ssh,
  writeFileAtomic: async (t, ...rest) => {
    if (t.name === 'host2') throw new AppError(ErrorCode.sshConnect, 'host2: connection refused (test)');
    return ssh.writeFileAtomic(t, ...rest);
  },
});
const motd = intercept(motdPlugin, (call) => {
  if (call.command !== 'motd set' || call.step !== 'write' || !host2DownOnce) return call.run();
  host2DownOnce = false;
  return call.run({ services: { ...call.env.services, ssh: failingHost2(call.env.services.ssh) } });
});

const motdOn = (host: string) => hostFile(NAME, host, '/etc/motd');
const backups = async (host: string) =>
  (await onHost(NAME, host, 'ls -A /etc')).split('\n').filter((f) => f.startsWith('motd.bak.'));

/** Sends a read-only command and waits for its result (a new message in a final state). */
async function read(text: string): Promise<string> {
  const before = new Set(s.double.messages(OPS).map((m) => m.ts));
  await s.send(text);
  const msg = await eventually(s, () =>
    s.double
      .messages(OPS)
      .find(
        (m) =>
          !before.has(m.ts) &&
          m.text.startsWith(`/flexvdi ${text} — `) &&
          /— (completed|failed)/.test(m.text),
      ),
  );
  return messageText(s, msg.ts);
}

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 3, log: quietLog });
  config = configOf(tb.inventoryPath);
  await registerWithManager(NAME, config, ['host1', 'host2']);
  stockMotd = await motdOn('host3');
  s = await startStack({ inventoryPath: tb.inventoryPath, plugins: [...builtinPlugins, motd] });
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

describe('motd set', () => {
  it('plans from what the registered Hosts show; Confirm writes each one once, with one backup', async () => {
    const plan = await planOf(s, `motd set ${TEXT}`);
    expect(plan.record.state).toBe('awaiting-confirmation');
    expect(plan.text).toContain(`Set the message of the day to “${TEXT}” on 2 Host(s): host1, host2`);
    expect(plan.text).toContain('Now, on the Hosts registered with the Manager (2 of 3 in the inventory)');
    expect(plan.text).toContain('*host1*: “The programs included with the Debian GNU/Linux system');
    expect(plan.text).not.toContain('host3');
    expect(plan.confirmId).toBeDefined();
    expect(await motdOn('host1')).toBe(stockMotd); // nothing written before Confirm

    await s.click(OPS, plan.ts);
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed']);
    expect(done.record.state).toBe('completed');
    expect(done.text).toContain(`2 Host(s) now show “${TEXT}”; /etc/motd read back on each.`);
    expect(done.text).toContain('*host1*: written; previous file kept as `/etc/motd.bak.');
    for (const h of ['host1', 'host2']) {
      expect(await motdOn(h)).toBe(`${TEXT}\n`);
      expect(await backups(h)).toHaveLength(1);
    }
    expect(await motdOn('host3')).toBe(stockMotd); // not registered: not touched
    expect(await backups('host3')).toEqual([]);
  });

  it('the same command again is a no-op plan, with no Confirm button', async () => {
    const plan = await planOf(s, `motd set ${TEXT}`);
    expect(plan.record.state).toBe('noop');
    expect(plan.text).toContain(`All 2 Host(s) already show “${TEXT}”. Nothing to do.`);
    expect(plan.confirmId).toBeUndefined();
    for (const h of ['host1', 'host2']) expect(await backups(h)).toHaveLength(1);
  });
});

describe('motd show', () => {
  it('lists what every registered Host shows', async () => {
    const text = await read('motd show');
    expect(text).toContain('motd show — completed');
    expect(text).not.toContain('with findings');
    expect(text).toContain(`2 Host(s) show “${TEXT}”`);
    expect(text).toContain(`*host2*: “${TEXT}”`);
    expect(text).not.toContain('host3');
  });

  it('ends with findings when the Hosts differ', async () => {
    await onHost(NAME, 'host2', 'printf "Other\\n" > /etc/motd');
    const text = await read('motd show');
    expect(text).toContain('motd show — completed with findings');
    expect(text).toContain('The Hosts show 2 different messages');
    expect(text).toContain('*host2*: “Other”');
  });
});

describe('resuming', () => {
  it('a Host unreachable in the first attempt is finished by the retry; the Host already written is skipped', async () => {
    host2DownOnce = true;
    const r = await runConfirmed(s, 'motd set Back to normal');
    expect(r.plan).toContain('on 2 Host(s): host1, host2');
    expect(r.record.state).toBe('completed');
    expect(r.text).toContain('*host1*: written by an earlier attempt');
    expect(r.text).toContain('*host2*: written; previous file kept');
    expect(host2DownOnce).toBe(false); // the fault did fire
    for (const h of ['host1', 'host2']) {
      expect(await motdOn(h)).toBe('Back to normal\n');
      expect(await backups(h)).toHaveLength(2); // one per change of the file
    }
  });
});

describe('hostile text', () => {
  it('from the user and from a Host reaches Slack escaped: no ping, no formatting', async () => {
    // Slack sends what the user typed with <, > and & entity-escaped; the bot unescapes it.
    const r = await runConfirmed(s, 'motd set &lt;!channel&gt; *hi*');
    expect(r.record.state).toBe('completed');
    for (const h of ['host1', 'host2']) expect(await motdOn(h)).toBe('<!channel> *hi*\n');
    await onHost(NAME, 'host2', 'printf "<@U0EVIL1> _x_\\n" > /etc/motd');
    const shown = await read('motd show');
    expect(shown).toContain('with findings');

    const sent = s.double
      .calls()
      .filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')
      .map((c) => JSON.stringify(c.params))
      .join('\n');
    expect(sent).not.toContain('<!channel>');
    expect(sent).not.toContain('<@U0EVIL1>');
    expect(sent).toContain('&lt;!channel&gt;');
    const blocks = s.double
      .messages(OPS)
      .map((m) => blocksText(m.blocks))
      .join('\n');
    // Slack formats nothing inside a code span (the command as typed is shown in one, exactly as typed, so
    // it can be copied); everywhere else the formatting characters are fenced.
    const outsideCode = blocks.replace(/`[^`]*`/g, '``');
    expect(outsideCode).not.toMatch(/(^|[^\u200b])\*hi\*/);
    expect(outsideCode).not.toMatch(/(^|[^\u200b])_x_/);
    expect(blocks).toContain('`/flexvdi motd set &lt;!channel&gt; *hi*`');
    expect(blocks.replace(/\u200b/g, '')).toContain('“&lt;!channel&gt; *hi*”');
  });
});

describe('the API for dependants', () => {
  it('motdOf reads a Host’s /etc/motd through the product’s SSH pool', async () => {
    const base = createServices(config, quietLog);
    try {
      const services = createRegistry([...builtinPlugins, motdPlugin]).services({
        config,
        log: quietLog,
        board: {} as MonitorBoard, // motd never reads the monitor's board
        ...base,
      });
      const host1 = config.inventory.hosts.find((h) => h.name === 'host1')!;
      expect(await motdPlugin.api(services).motdOf(host1, AbortSignal.timeout(20_000))).toBe(
        '<!channel> *hi*\n',
      );
    } finally {
      await base.ssh.close();
    }
  });
});
