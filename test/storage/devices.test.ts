/**
 * `/flexvdi storage devices` end to end against real Hosts (a test-scoped testbed "st-dev": 3 Hosts, 2 shared
 * disks, every Host registered with the Manager stand-in), through the bot and a worker with the Slack
 * double: one disk formatted OCFS2 from inside a Host with the real mkfs.ocfs2 (a label with a backtick, a
 * ping and a new line) and mounted on two Hosts (the emulated mount, read back through findmnt as a real Host
 * answers), the other empty; both listed by id with their size and content, visible from every Host. Then a
 * name that is not in the inventory (its suggestion), and a Host cut off: named, the rest shown, "completed
 * with findings".
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Md } from '../../src/core/text.js';
import {
  diskPaths,
  failHost,
  healHost,
  type TestbedInfo,
  testbedDown,
  testbedUp,
} from '../../src/testbed/index.js';
import { layoutFor } from '../../src/testbed/layout.js';
import { configOf, quietLog, registerWithManager } from '../ocfs2/helpers.js';
import { planOf } from '../support/flow.js';
import { type Stack, startStack, USER } from '../support/harness.js';
import { onHost } from '../support/hosts.js';

const NAME = 'st-dev';
const CLUSTER = 'stdev';
const LABEL = 'vm`<!here>\n*x';
const layout = layoutFor(NAME, '/', 0, 0);
const DISK0 = diskPaths(layout, 0).byId;
const DISK1 = diskPaths(layout, 1).byId;
const ID0 = path.basename(DISK0);
const ID1 = path.basename(DISK1);
let tb: TestbedInfo;
let s: Stack;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 3, disks: 2, log: quietLog });
  await registerWithManager(NAME, configOf(tb.inventoryPath), ['host1', 'host2', 'host3']);
  s = await startStack({ inventoryPath: tb.inventoryPath });
});
afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

const plain = (lines: readonly Md[] | undefined) => (lines ?? []).map((l) => l.plain());
const ipOf = (host: string) => tb.hosts.find((h) => h.name === host)?.ip ?? '?';

describe('storage devices on real Hosts', () => {
  it('lists both shared disks by id with size and content, the OCFS2 one mounted where it is', async () => {
    // Formatted from inside host1 with the real tool; then an OCFS2 cluster of host1 and host2 (cluster.conf
    // made by the real o2cb) mounts it on both.
    await onHost(
      NAME,
      'host1',
      'mkfs.ocfs2 -q -N 4 -L "$1" --cluster-stack=o2cb --cluster-name="$2" "$3" </dev/null',
      [LABEL, CLUSTER, DISK0],
    );
    for (const host of ['host1', 'host2']) {
      await onHost(
        NAME,
        host,
        [
          'rm -f /etc/ocfs2/cluster.conf',
          'o2cb add-cluster "$1"',
          'o2cb add-node "$1" host1 --ip "$2" --number 0',
          'o2cb add-node "$1" host2 --ip "$3" --number 1',
          'o2cb register-cluster "$1"',
          'mkdir -p /mnt/vm',
          'mount -t ocfs2 "$4" /mnt/vm',
        ].join(' && '),
        [CLUSTER, ipOf('host1'), ipOf('host2'), DISK0],
      );
    }

    const r = await planOf(s, 'storage devices', { user: USER });
    expect(r.record.state).toBe('completed');
    const result = r.record.result;
    expect(result?.summary.plain()).toBe('2 devices on 3 Hosts: 2 visible from every Host');
    const [shared, ...rest] = result?.sections ?? [];
    expect(shared?.title?.plain()).toBe('Visible from every Host (host1, host2, host3)');
    expect(plain(shared?.lines)).toEqual([
      `• \`${ID0}\` · 2.0 GiB · OCFS2, label \`vmˋ<!here>\\n*x\`, cluster \`${CLUSTER}\`, 4 slots · mounted at \`/mnt/vm\` on host1, host2 (\`/dev/sdb\`)`,
      `• \`${ID1}\` · 2.0 GiB · empty · not mounted (\`/dev/sdc\`)`,
    ]);
    // The machine's own disks (its root disk, other testbeds' loop devices) have no by-id link on a Host:
    // said in the notes, not a finding; the testbed's disks are never among them.
    const notes = rest.filter((x) => x.title?.plain() === 'Notes').flatMap((x) => plain(x.lines));
    for (const n of notes)
      expect(n).toMatch(/^• host\d: no stable id \(no \/dev\/disk\/by-id link\), not listed: /);
    expect(notes.join('\n')).not.toMatch(/\bsd[bc]\b/);
    expect(plain(rest.filter((x) => x.title?.plain() !== 'Notes').flatMap((x) => x.lines))).toEqual([
      'Hosts: the Hosts registered with the Manager (3 of 3 in the inventory).',
    ]);
    expect(Object.keys(r.record.hosts ?? {}).sort()).toEqual(['host1', 'host2', 'host3']);
    // What Slack shows: the label's ping is text, its backtick cannot end the code span.
    expect(r.text).not.toContain('<!here>');
    expect(r.text).toContain('&lt;!here&gt;');
  });

  it('a name that is not in the inventory fails with the suggestion, nothing read', async () => {
    const r = await planOf(s, 'storage devices --hosts host1,hots2', { user: USER });
    expect(r.record.state).toBe('failed');
    expect(r.record.error).toMatch(/^`hots2` is not in the inventory\. Did you mean `host2`\?/);
    expect(r.record.hosts ?? {}).toEqual({});
  });

  it('a Host that does not answer is named and the rest shown: completed with findings', async () => {
    // A fresh stack: an SSH connection already open to a Host whose link drops is only declared dead by the
    // keepalive (~60 s); a new one fails after the inventory's connect timeout (5 s).
    await s.stop();
    s = await startStack({ inventoryPath: tb.inventoryPath });
    await failHost({ name: NAME, host: 'host3', mode: 'link-down', log: quietLog });
    try {
      const r = await planOf(s, 'storage devices', { user: USER });
      expect(r.record.state).toBe('findings');
      expect(r.record.hosts?.['host3']?.state).toBe('failed');
      const result = r.record.result;
      expect(result?.summary.plain()).toBe(
        '2 devices on 2 Hosts: 2 visible from every Host that answered — :warning: not read: host3',
      );
      const sections = result?.sections ?? [];
      expect(sections[0]?.title?.plain()).toBe(
        'Visible from every Host that answered (host1, host2; not read: host3)',
      );
      // (id and size only: what is on the disks is the first test's business)
      expect(plain(sections[0]?.lines).map((l) => l.split(' · ').slice(0, 2).join(' · '))).toEqual([
        `• \`${ID0}\` · 2.0 GiB`,
        `• \`${ID1}\` · 2.0 GiB`,
      ]);
      const notRead = sections.find((x) => x.title?.plain() === 'Not read');
      expect(plain(notRead?.lines)).toEqual([expect.stringMatching(/^• :warning: \*host3\*: .+/)]);

      // The same with the Hosts named: only those are read.
      const named = await planOf(s, 'storage devices --hosts host3,host2', { user: USER });
      expect(named.record.state).toBe('findings');
      expect(Object.keys(named.record.hosts ?? {}).sort()).toEqual(['host2', 'host3']);
      expect(named.record.result?.sections[0]?.title?.plain()).toBe(
        'Visible from every Host that answered (host2; not read: host3)',
      );
      expect(plain(named.record.result?.sections.at(-1)?.lines)).toEqual([
        'Hosts: named with --hosts (host2, host3).',
      ]);
    } finally {
      await healHost({ name: NAME, host: 'host3', log: quietLog });
    }
  });
});
