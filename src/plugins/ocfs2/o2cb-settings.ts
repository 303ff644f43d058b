/**
 * The o2cb settings file: `/etc/default/o2cb` on Debian, `/etc/sysconfig/o2cb` on RHEL/CentOS (the init
 * script reads the one that exists, sysconfig first). The four timeouts must be identical on every node or
 * o2net drops the connections; `O2CB_HEARTBEAT_THRESHOLD` t means a silent node self-fences after (t−1)×2 s.
 * Updating keeps every other line of the file (comments, other keys) as it was.
 */
import { z } from 'zod';
import { type Md, md } from '../../core/text.js';

export const O2CB_SYSCONFIG = '/etc/sysconfig/o2cb';
export const O2CB_DEFAULT = '/etc/default/o2cb';

const count = z.number().int().nonnegative();
/** The four timeouts, as pinned by a plan (they must be the same on every node). */
export const o2cbTimeoutsSchema = z.object({
  heartbeatThreshold: count,
  idleTimeoutMs: count,
  keepaliveDelayMs: count,
  reconnectDelayMs: count,
});
export type O2cbTimeouts = z.output<typeof o2cbTimeoutsSchema>;

/** ocfs2-tools' and the kernel's defaults. */
export const DEFAULT_TIMEOUTS: O2cbTimeouts = {
  heartbeatThreshold: 31,
  idleTimeoutMs: 30000,
  keepaliveDelayMs: 2000,
  reconnectDelayMs: 2000,
};

const TIMEOUT_KEYS: Record<keyof O2cbTimeouts, string> = {
  heartbeatThreshold: 'O2CB_HEARTBEAT_THRESHOLD',
  idleTimeoutMs: 'O2CB_IDLE_TIMEOUT_MS',
  keepaliveDelayMs: 'O2CB_KEEPALIVE_DELAY_MS',
  reconnectDelayMs: 'O2CB_RECONNECT_DELAY_MS',
};

/** KEY=value assignments of a shell-style settings file (quotes removed; last one wins, as in the shell). */
export function parseSettings(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=\s*(?:"([^"]*)"|'([^']*)'|([^\s#]*))/.exec(line);
    if (m) out[m[1]!] = (m[2] ?? m[3] ?? m[4] ?? '').trim();
  }
  return out;
}

/** The timeouts a node runs with: the file's values, the defaults where unset or not a number. */
export function timeoutsOf(text: string | null): O2cbTimeouts {
  const s = parseSettings(text ?? '');
  const out = { ...DEFAULT_TIMEOUTS };
  for (const [k, key] of Object.entries(TIMEOUT_KEYS) as [keyof O2cbTimeouts, string][]) {
    const v = s[key];
    if (v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export const sameTimeouts = (a: O2cbTimeouts, b: O2cbTimeouts): boolean =>
  (Object.keys(TIMEOUT_KEYS) as (keyof O2cbTimeouts)[]).every((k) => a[k] === b[k]);

export function describeTimeouts(t: O2cbTimeouts): Md {
  return md`heartbeat threshold ${t.heartbeatThreshold} (a silent node fences itself after ${(t.heartbeatThreshold - 1) * 2} s), idle ${t.idleTimeoutMs} ms, keepalive ${t.keepaliveDelayMs} ms, reconnect ${t.reconnectDelayMs} ms`;
}

/**
 * The settings file with o2cb enabled at boot for `cluster` and the given timeouts: existing assignments are
 * replaced in place, missing ones appended. Idempotent: applying it to its own output changes nothing.
 */
export function renderSettings(old: string | null, cluster: string, t: O2cbTimeouts): string {
  const want: [string, string][] = [
    ['O2CB_ENABLED', 'true'],
    ['O2CB_BOOTCLUSTER', cluster],
    ...(Object.entries(TIMEOUT_KEYS) as [keyof O2cbTimeouts, string][]).map(
      ([k, key]) => [key, String(t[k])] as [string, string],
    ),
  ];
  const lines = (old ?? '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const done = new Set<string>();
  const out = lines.map((line) => {
    const m = /^\s*([A-Z0-9_]+)=/.exec(line);
    const hit = m && want.find(([key]) => key === m[1]);
    if (!hit) return line;
    done.add(hit[0]);
    return `${hit[0]}=${hit[1]}`;
  });
  for (const [key, value] of want) if (!done.has(key)) out.push(`${key}=${value}`);
  return `${out.join('\n')}\n`;
}

export interface SettingsState {
  enabled: boolean;
  bootCluster: string;
  timeouts: O2cbTimeouts;
}

export function settingsStateOf(text: string | null): SettingsState {
  const s = parseSettings(text ?? '');
  return {
    enabled: s['O2CB_ENABLED'] === 'true',
    bootCluster: s['O2CB_BOOTCLUSTER'] ?? '',
    timeouts: timeoutsOf(text),
  };
}
