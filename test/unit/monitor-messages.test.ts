/**
 * The monitor's Slack messages: what the parent says in each phase, the replies, durations and times, and
 * that what the Manager says reaches Slack escaped (no ping, no link).
 */
import { describe, expect, it } from 'vitest';
import type { InventoryHost } from '../../src/config.js';
import type { Incident, MonitorEvent } from '../../src/monitor/incidents.js';
import { clock, duration, parentMessage, replyFor } from '../../src/monitor/messages.js';
import { monitorSettingsSchema } from '../../src/monitor/settings.js';

const T = monitorSettingsSchema.parse({});
const AT = Date.parse('2026-12-01T12:00:03Z');
const host: InventoryHost = { name: 'host2', fqdn: 'host2.example.com', ip: '10.0.0.12', port: 22 };
const inc = (over: Partial<Incident> = {}): Incident => ({
  id: 'host2-abc',
  host: 'host2',
  state: 'open',
  phase: 'lost',
  openedAt: AT,
  lostAt: AT,
  resolvedAt: null,
  failing: ['heartbeat'],
  flaps: 0,
  channel: 'C0ALERTS1',
  threadTs: null,
  version: 0,
  ...over,
});
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
});
