/**
 * The monitor's Slack messages: what the parent says in each phase, the replies, durations and times, and
 * that what the Manager says reaches Slack escaped (no ping, no link).
 */
import { describe, expect, it } from 'vitest';
import type { InventoryHost } from '../../src/config.js';
import { md } from '../../src/core/text.js';
import { ALERT_ACTIONS } from '../../src/monitor/board.js';
import type { Incident, MonitorEvent } from '../../src/monitor/incidents.js';
import { clock, duration, parentMessage, replyFor } from '../../src/monitor/messages.js';
import { monitorSettingsSchema } from '../../src/monitor/settings.js';
import { incidentFixture } from '../support/incident.js';

const T = monitorSettingsSchema.parse({});
const AT = Date.parse('2026-12-01T12:00:03Z');
const host: InventoryHost = { name: 'host2', fqdn: 'host2.example.com', ip: '10.0.0.12', port: 22 };
const inc = (over: Partial<Incident> = {}): Incident =>
  incidentFixture({ openedAt: AT, lostAt: AT, ...over });
const all = (m: { text: string; blocks: unknown[] }) => `${m.text}\n${JSON.stringify(m.blocks)}`;

describe('monitor messages', () => {
  it('formats durations and times for people', () => {
    expect(duration(2500)).toBe('2.5 s');
    expect(duration(9_960)).toBe('10 s');
    expect(duration(67_000)).toBe('1 min 7 s');
    expect(duration(120_000)).toBe('2 min');
    expect(duration(7_500_000)).toBe('2 h 5 min');
    expect(clock(AT)).toBe('12:00:03 UTC');
    expect(clock(AT, AT + 86_400_000)).toBe('2026-12-01 12:00:03 UTC');
  });

  it('the parent of a lost Host: who, since when, what failed, what the Manager says', () => {
    const m = parentMessage(
      inc({ failing: ['heartbeat', 'sshd'] }),
      host,
      { status: 'running', lastHeartbeat: '2026-12-01T12:00:01Z' },
      null,
      T,
      AT,
    );
    expect(m.text).toBe('🔴 *host2* (`host2.example.com`, 10.0.0.12) is lost since 12:00:03 UTC');
    const shown = all(m);
    expect(shown).toContain('no heartbeat for 2.5 s or more');
    expect(shown).toContain('sshd does not accept connections');
    expect(shown).toContain('Manager: running, last heartbeat 12:00:01 UTC');
    expect(shown).toContain('incident `host2-abc`');
  });

  it('the parent while recovering, after flapping, and resolved with the downtime', () => {
    expect(parentMessage(inc({ phase: 'recovering' }), host, null, null, T, AT).text).toMatch(
      /^🟡 \*host2\* .* answers again, watched for 5 s/,
    );
    expect(all(parentMessage(inc({ flaps: 2 }), host, null, null, T, AT))).toContain(
      'Lost 3 times since 12:00:03 UTC (flapping)',
    );
    expect(all(parentMessage(inc(), host, null, null, T, AT))).toContain('Manager: could not be read');
    const done = parentMessage(inc({ state: 'resolved', resolvedAt: AT + 67_000 }), host, null, null, T, AT);
    expect(done.text).toBe(
      '✅ *host2* (`host2.example.com`, 10.0.0.12) is back: lost at 12:00:03 UTC, answering since 12:01:10 UTC (down 1 min 7 s)',
    );
  });

  it('says why the monitor cannot reach the Host when it knows (e.g. a changed host key), as code', () => {
    const m = parentMessage(inc(), host, null, 'The SSH host key of host2 <!here> changed', T, AT);
    expect(all(m)).toContain('Connection: `The SSH host key of host2 &lt;!here&gt; changed`');
  });

  it('shows what the Manager says as text: no channel ping, no link', () => {
    const m = parentMessage(
      inc(),
      host,
      { status: '<!channel> <http://evil.example|x>', lastHeartbeat: null },
      null,
      T,
      AT,
    );
    expect(all(m)).not.toContain('<!channel>');
    expect(all(m)).not.toContain('<http://evil');
    expect(all(m)).toContain('&lt;!channel&gt;');
  });

  it('one reply per event, none for the opening (the parent is the opening)', () => {
    const e = (kind: MonitorEvent['kind'], over: Partial<Incident> = {}): MonitorEvent => ({
      seq: 1,
      kind,
      host: 'host2',
      incidentId: 'host2-abc',
      at: AT + 67_000,
      incident: inc(over),
      manager: null,
      problem: null,
      roles: [],
    });
    expect(replyFor(e('opened'), T)).toBeNull();
    expect(replyFor(e('resolved'), T)?.text).toBe('✅ Recovered at 12:01:10 UTC, after 1 min 7 s down.');
    expect(replyFor(e('recovering'), T)?.text).toBe(
      'Answering again at 12:01:10 UTC; resolved after 5 s without a failure.',
    );
    expect(replyFor(e('relapsed'), T)?.text).toMatch(
      /^Lost again at 12:01:10 UTC before it had recovered: no heartbeat/,
    );
    expect(replyFor(e('reopened', { flaps: 1 }), T)?.text).toMatch(
      /^🔴 Lost again at 12:01:10 UTC, within 5 min of recovering: this thread continues \(2 losses\)/,
    );
    expect(replyFor(e('signals', { failing: ['sshd'] }), T)?.text).toMatch(
      /^Now failing at 12:01:10 UTC: sshd does not accept/,
    );
  });

  const buttonsOf = (m: { blocks: unknown[] }) =>
    (m.blocks as { type: string; elements?: { action_id: string; value: string }[] }[])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? []);

  it('an open Host incident has Acknowledge, Diagnose and Replace buttons; acknowledged: who, and no Acknowledge; resolved: none', () => {
    const open = buttonsOf(parentMessage(inc(), host, null, null, T, AT));
    expect(open.map((b) => b.action_id)).toEqual([
      ALERT_ACTIONS.acknowledge,
      ALERT_ACTIONS.diagnose,
      ALERT_ACTIONS.replace,
    ]);
    expect(JSON.parse(open[0]!.value)).toEqual({ incident: 'host2-abc', host: 'host2' });
    const acked = parentMessage(inc({ ack: { by: 'U0ADMIN1', at: AT + 1000 } }), host, null, null, T, AT);
    expect(all(acked)).toContain('Acknowledged by <@U0ADMIN1> at 12:00:04 UTC');
    expect(buttonsOf(acked).map((b) => b.action_id)).toEqual([ALERT_ACTIONS.diagnose, ALERT_ACTIONS.replace]);
    expect(
      buttonsOf(parentMessage(inc({ state: 'resolved', resolvedAt: AT }), host, null, null, T, AT)),
    ).toEqual([]);
  });

  it('a storm: how many of how many, which, what to check first; only Acknowledge; over: who is still lost', () => {
    const storm = inc({
      kind: 'storm',
      host: '*storm',
      id: 'storm-1',
      hosts: ['host1', 'host2'],
      failing: [],
    });
    const m = parentMessage(storm, undefined, null, null, T, AT, 3);
    expect(m.text).toBe('🔴 2 of 3 Hosts lost at once since 12:00:03 UTC: *host1*, *host2*');
    expect(all(m)).toContain('the path between the monitor and the Hosts');
    expect(buttonsOf(m).map((b) => b.action_id)).toEqual([ALERT_ACTIONS.acknowledge]);
    const over = parentMessage(
      { ...storm, state: 'resolved', resolvedAt: AT + 60_000, hosts: ['host1'] },
      undefined,
      null,
      null,
      T,
      AT,
      3,
    );
    expect(over.text).toBe('✅ Storm over at 12:01:03 UTC (began 12:00:03 UTC, 1 min)');
    expect(all(over)).toContain('Still lost: *host1* — each has its own thread now.');
  });

  it('a maintenance window: until when, by whom, why (escaped); ended; the replies', () => {
    const w = inc({
      kind: 'maintenance',
      id: 'host2-m-1',
      failing: [],
      maintenance: { id: 'w', by: 'U0ADMIN1', reason: '<!here> disk', until: AT + 1_800_000, endedBy: null },
    });
    const m = parentMessage(w, host, null, null, T, AT);
    expect(m.text).toBe(
      '🔧 *host2* (`host2.example.com`, 10.0.0.12) is in maintenance until 12:30:03 UTC (set by <@U0ADMIN1> — &lt;!here&gt; disk): its heartbeat alerts are muted until then',
    );
    const ev = (kind: MonitorEvent['kind'], i: Incident): MonitorEvent => ({
      seq: 1,
      kind,
      host: 'host2',
      incidentId: i.id,
      at: AT + 60_000,
      incident: i,
      manager: null,
      problem: null,
      roles: [],
    });
    expect(replyFor(ev('changed', w), T)?.text).toBe(
      'Maintenance window changed: now until 12:30:03 UTC — &lt;!here&gt; disk.',
    );
    expect(replyFor(ev('resolved', w), T)?.text).toBe(
      'Maintenance over at 12:01:03 UTC: alerts for host2 are on again.',
    );
    const early = { ...w, maintenance: { ...w.maintenance!, endedBy: 'U0ADMIN2' } };
    expect(replyFor(ev('resolved', early), T)?.text).toBe(
      'Maintenance ended early by <@U0ADMIN2> at 12:01:03 UTC: alerts for host2 are on again.',
    );
  });

  it('acknowledgement and reminder replies', () => {
    const i = inc({ ack: { by: 'U0ADMIN1', at: AT + 5000 } });
    const ev = (kind: MonitorEvent['kind']): MonitorEvent => ({
      seq: 1,
      kind,
      host: 'host2',
      incidentId: i.id,
      at: AT + 1_800_000,
      incident: i,
      manager: null,
      problem: null,
      roles: [],
    });
    expect(replyFor(ev('acknowledged'), T)?.text).toBe(
      '👀 Acknowledged by <@U0ADMIN1> at 12:00:08 UTC: no more reminders.',
    );
    expect(replyFor(ev('reminder'), T)?.text).toBe(
      '⏰ Still lost after 30 min and nobody has acknowledged it.',
    );
  });

  it('what the Host does, with when the cluster acts on its loss (clock time and time left)', () => {
    const role = {
      role: md`node 2 (\`host2\`) of OCFS2 cluster \`${'<!here>'}\``,
      onLoss: [
        { afterMs: 30_000, what: md`the other nodes evict it (o2net idle timeout)` },
        { afterMs: 60_000, what: md`it fences itself if it still runs` },
      ],
    };
    const m = parentMessage(inc(), host, null, null, T, AT + 10_000, 4, [role]);
    expect(all(m)).toContain(
      '• node 2 (`host2`) of OCFS2 cluster `&lt;!here&gt;`: the other nodes evict it (o2net idle timeout) at ~12:00:33 UTC (in 20 s); it fences itself if it still runs at ~12:01:03 UTC (in 50 s)',
    );
    const late = parentMessage(inc(), host, null, null, T, AT + 45_000, 4, [role]);
    expect(all(late)).toContain('at ~12:00:33 UTC (passed)');
  });
});
