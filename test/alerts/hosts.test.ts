/**
 * `diagnose` and `status` against real Hosts (a test-scoped testbed: real sshd, the real tools of a Debian
 * Host, the Manager stand-in with host1 registered): what the diagnosis reads on a Host that answers (uptime,
 * load, memory, root filesystem, sshd listening, o2cb), a Host whose sshd was stopped (refused, said as such),
 * and `status` with every Host read over SSH. No monitor runs: both say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { configOf, registerWithManager } from '../ocfs2/helpers.js';
import { planOf } from '../support/flow.js';
import { type Stack, startStack, USER } from '../support/harness.js';
import { quietLog } from '../testbed/helpers.js';

const NAME = 'al-diag';
let tb: TestbedInfo;
let s: Stack;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 2, log: quietLog });
  await registerWithManager(NAME, configOf(tb.inventoryPath), ['host1']);
  s = await startStack({ inventoryPath: tb.inventoryPath });
});
afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

const seen = (t: string) => t.replace(/\u200b/g, '');

describe('diagnose on a real Host', () => {
  it('reads uptime, load, memory, the root filesystem, sshd and o2cb over SSH', async () => {
    const r = await planOf(s, 'diagnose host1', { user: USER });
    const text = seen(r.text);
    const ip = tb.hosts.find((h) => h.name === 'host1')?.ip ?? '?';
    expect(text).toContain(`🟢 SSH port ${ip}:22 accepts connections`);
    expect(text).toMatch(/• (:warning: )?up [0-9][^,]*, load [0-9.]+ [0-9.]+ [0-9.]+ on \d+ CPUs/);
    expect(text).toMatch(/Memory: [0-9.]+ [KMGT]iB available of [0-9.]+ [KMGT]iB \(\d+ %\)/);
    expect(text).toMatch(
      /Root filesystem: \d+ % used \([0-9.]+ [KMGTP]iB of [0-9.]+ [KMGTP]iB, [0-9.]+ [KMGTP]iB free\)/,
    );
    expect(text).toMatch(/sshd: listening on port 22 \(\d+ sshd process(es)?\)/);
    expect(text).toMatch(/o2cb: `[^`]+`/);
    expect(text).toMatch(/\*Manager\*\\n• \w+/);
    // what needs a look is named in the summary (no monitor runs here)
    expect(text).toMatch(
      /answers on its SSH port, up [^—]+ — :warning: to look at: .*the monitor \(not running\)/,
    );
    expect(text).toContain('The heartbeat monitor is not running');
    expect(text).toContain('not a node of an OCFS2 cluster');
  });

  it('says a Host whose sshd stopped refuses connections', async () => {
    await failHost({ name: NAME, host: 'host2', mode: 'sshd-stop', log: quietLog });
    const r = await planOf(s, 'diagnose host2', { user: USER });
    expect(r.record.state).toBe('findings');
    expect(seen(r.text)).toMatch(/host2.* does not answer: 🔴 [0-9.]+:22 refused the connection/);
    expect(seen(r.text)).toContain('*Manager*\\n• does not list it');
  });
});

describe('status on real Hosts', () => {
  it('reads OCFS2 on the Host that answers and reports the one that does not', async () => {
    const r = await planOf(s, 'status', { user: USER });
    expect(r.record.state).toBe('findings');
    const text = seen(r.text);
    expect(text).toMatch(/\*host1\* .* · Manager: (?!does not)\w+.* · OCFS2: no cluster/);
    expect(text).toMatch(/\*host2\* .* · Manager: does not list it · OCFS2: not read \(/);
  });
});
