/**
 * The monitor plugin's commands through the whole stack (bot ⇄ real Redis ⇄ worker, the Slack double), on
 * the monitor's board as its own records hold it (written here as fixtures: no monitor runs): `alerts`
 * without a monitor and with incidents, a storm, an acknowledgement and a window; `maintenance` plan →
 * Confirm → the window on the board, the list, `--end`, a non-admin refused, an unknown Host with the closest
 * name suggested; `status` with a Host that does not answer; `diagnose` of a Host where nothing listens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORM } from '../../src/monitor/board.js';
import { ENDED, pendingPlanOf, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, USER } from '../support/harness.js';
import {
  ALERTS,
  type AlertsStack,
  auditRecords,
  startAlertsStack,
  writeIncident,
  writeView,
} from './helpers.js';

let s: AlertsStack;
beforeAll(async () => {
  s = await startAlertsStack();
});
afterAll(async () => {
  await s?.stop();
});

/** What the user sees of a job's message, without the zero-width spaces that fence formatting characters. */
const seen = (t: string) => t.replace(/\u200b/g, '');

describe('/flexvdi alerts', () => {
  it('says when the monitor is not running', async () => {
    const r = await planOf(s, 'alerts', { user: USER });
    expect(r.record.state).toBe('findings');
    expect(r.text).toContain('The heartbeat monitor is not running');
    expect(r.text).toContain('No open incident, 0 maintenance windows');
  });

  it('lists open incidents with their threads and acknowledgements, a storm as one, and the windows', async () => {
    await writeView(s, [
      { host: 'host1', state: 'lost', since: Date.now() - 90_000, failing: ['heartbeat'] },
      { host: 'host2', state: 'healthy', since: Date.now() - 900_000, failing: [] },
    ]);
    const inc = await writeIncident(s, 'host1', {
      id: 'host1-t1',
      host: 'host1',
      threadTs: '1796291880.000100',
    });
    await writeIncident(s, STORM, {
      id: 'storm-t1',
      host: STORM,
      kind: 'storm',
      hosts: ['host1', 'host2'],
      threadTs: '1796291890.000200',
    });
    await writeIncident(s, 'host2', {
      id: 'host2-old',
      host: 'host2',
      state: 'resolved',
      resolvedAt: Date.now(),
    });
    expect((await s.board.acknowledge(inc.id, USER, Date.now())).first).toBe(true);
    await s.board.setMaintenance({
      id: 'mw-fixture',
      host: 'host2',
      by: ADMIN,
      reason: 'disk <!channel> swap',
      since: Date.now(),
      until: Date.now() + 3_600_000,
      endedBy: null,
    });
    const r = await planOf(s, 'alerts', { user: USER });
    expect(r.record.state).toBe('completed');
    const text = seen(r.text);
    expect(text).toContain('2 open incidents (1 acknowledged), 1 maintenance window');
    expect(text).toContain('Heartbeat monitor running');
    // the thread link is the workspace's permalink (its URL as the bot learnt it from auth.test)
    expect(text).toMatch(
      new RegExp(
        `🔴 \\*host1\\* lost since [0-9:]+ UTC \\(1 min 30 s\\) · acknowledged by <@${USER}> at [0-9:]+ UTC · <${s.double.url}/archives/${ALERTS}/p1796291880000100\\|thread>`,
      ),
    );
    expect(text).toContain('🌩️ *Storm*: 2 Hosts lost at once');
    expect(text).toContain(`/archives/${ALERTS}/p1796291890000200|thread>`);
    expect(text).toContain(`🔧 *host2* until`);
    expect(text).toContain(`set by <@${ADMIN}> — disk &lt;!channel&gt; swap`);
    expect(text).not.toContain('host2-old');
  });
});

describe('/flexvdi maintenance', () => {
  it('plans a window (until when, why, what it means), and Confirm puts it on the board', async () => {
    await s.board.endMaintenance('host2', ADMIN, Date.now());
    const plan = await pendingPlanOf(s, 'maintenance host2 --for 30m --reason "disk swap"');
    const text = seen(plan.text);
    expect(text).toMatch(
      /Maintenance for \*host2\* \(`host2.flexvdi.test`\) until [0-9:]+ UTC: 30 min from this plan/,
    );
    expect(text).toContain('Alerts for host2 are muted until');
    expect(text).toContain('a new loss of it is not alerted until the window ends');
    expect(text).toContain('still resolves in its thread when host2 recovers');
    expect(text).toContain('The monitor says in the alert channel when the window starts, changes and ends');
    expect(text).toContain('Reason: disk swap');
    const planned = Date.now();
    const done = await runConfirmedFrom(plan.ts);
    expect(done.record.state).toBe('completed');
    expect(seen(done.text)).toContain('*host2* is in maintenance until');
    const windows = (await s.board.maintenance()).filter((m) => m.until > Date.now());
    expect(windows).toEqual([
      {
        id: `mw-${done.record.jobId}`,
        host: 'host2',
        by: ADMIN,
        reason: 'disk swap',
        since: expect.any(Number),
        until: expect.any(Number),
        endedBy: null,
      },
    ]);
    const w = windows[0]!;
    expect(w.until - planned).toBeLessThanOrEqual(30 * 60_000);
    expect(w.until - planned).toBeGreaterThan(29 * 60_000);
  });

  it('without a Host lists the windows (nothing to do)', async () => {
    const r = await planOf(s, 'maintenance');
    expect(r.record.state).toBe('noop');
    expect(seen(r.text)).toContain('1 maintenance window running');
    expect(seen(r.text)).toMatch(
      /🔧 \*host2\* until [0-9:]+ UTC \(\d+ min( \d+ s)? left\), set by <@U0ADMIN01> — disk swap/,
    );
  });

  it('--end ends it early; ending it again has nothing to do', async () => {
    const done = await runConfirmed(s, 'maintenance host2 --end');
    expect(done.plan).toContain('End *host2*');
    expect(done.record.state).toBe('completed');
    expect(seen(done.text)).toContain("*host2*'s maintenance window ended at");
    const [w] = await s.board.maintenance();
    expect(w?.until).toBeLessThanOrEqual(Date.now());
    expect(w?.endedBy).toBe(ADMIN);
    const again = await planOf(s, 'maintenance host2 --end');
    expect(again.record.state).toBe('noop');
    expect(seen(again.text)).toContain('Nothing to end: *host2* has no maintenance window running.');
  });

  it('refuses a non-admin (audited) and an unknown Host, suggesting the closest name', async () => {
    const res = await s.send('maintenance host1 --for 30m', { user: USER });
    expect((JSON.parse(res.body) as { text: string }).text).toContain(
      'Only flexVDI admins can run this command',
    );
    const refused = (await auditRecords(s)).find(
      (r) => r['user'] === USER && r['command'] === 'maintenance host1 --for 30m',
    );
    expect(refused).toMatchObject({ outcome: 'refused', detail: 'auth.not_admin' });
    const unknown = await planOf(s, 'maintenance hots1 --for 1h');
    expect(unknown.record.state).toBe('refused');
    expect(seen(unknown.text)).toContain('`hots1` is not in the inventory. Did you mean `host1`?');
  });
});

describe('/flexvdi status', () => {
  it('shows every Host (monitor, Manager, OCFS2, incident) and reports the Hosts that do not answer', async () => {
    const r = await planOf(s, 'status', { user: USER });
    expect(r.record.state).toBe('findings');
    const text = seen(r.text);
    // the storm is an open incident too
    expect(text).toContain('2 Hosts: 1 lost, 1 healthy · 2 open incidents · 0 in maintenance');
    expect(text).toMatch(
      /\*host1\* \(`host1.flexvdi.test`\) — 🔴 lost since [0-9:]+ UTC, failing: heartbeat · Manager: running, last heartbeat [0-9:]+ UTC · OCFS2: not read \(The SSH host key of host1 .*?\) · 🔴 open incident \(<[^|]+\|thread>\)/,
    );
    expect(text).toMatch(
      /\*host2\* \(`host2.flexvdi.test`\) — 🟢 healthy since [0-9:]+ UTC · Manager: does not list it · OCFS2: not read/,
    );
    // the step that could not read every Host is shown ⚠️ with which ones, not ✅
    expect(r.record.steps?.find((st) => st.id === 'ocfs2')).toMatchObject({
      state: 'warning',
      detail: expect.stringContaining('could not read host1, host2'),
    });
  });
});

describe('/flexvdi diagnose', () => {
  it('says a Host where nothing listens refuses connections, and still shows the Manager, monitor and OCFS2', async () => {
    const r = await planOf(s, 'diagnose host1', { user: USER });
    expect(r.record.state).toBe('findings');
    const text = seen(r.text);
    expect(text).toContain(
      `*host1* (\`host1.flexvdi.test\`, 127.0.0.1) does not answer: 🔴 127.0.0.1:${s.port} refused the connection`,
    );
    expect(text).toContain('not asked: the SSH port does not accept connections');
    expect(text).toMatch(/\*Manager\*\\n• running, last heartbeat [0-9:]+ UTC/);
    expect(text).toMatch(/Probe: 🔴 lost since [0-9:]+ UTC/);
    expect(text).toContain(`acknowledged by <@${USER}>`);
    expect(text).toContain('not a node of an OCFS2 cluster');
  });

  it('fails for a Host that is not in the inventory, suggesting the closest name', async () => {
    const r = await planOf(s, 'diagnose hots2', { user: USER });
    expect(r.record.state).toBe('failed');
    expect(r.record.error).toContain('`hots2` is not in the inventory. Did you mean `host2`?');
  });
});

/** Clicks Confirm on the plan at `ts` and waits for the job to end. */
async function runConfirmedFrom(ts: string) {
  await s.click(OPS, ts);
  return waitForJobState(s, ts, ENDED, 60_000);
}
