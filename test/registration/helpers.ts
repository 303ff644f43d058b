/**
 * Shared parts of the registration tests: a test-scoped testbed, inventory variants next to its inventory
 * (relative paths keep working), driving a command through plan → Confirm → result in the Slack double,
 * and reading the Hosts' key files from inside the Hosts (not through the product).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { runJobIdFor } from '../../src/bot/actions.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import { fingerprintSha256 } from '../../src/ssh/index.js';
import { runOnHost, type TestbedInfo } from '../../src/testbed/index.js';
import { blocksText, findButtonValue, OPS, type Stack } from '../support/harness.js';
import { quietLog } from '../testbed/helpers.js';

export { quietLog };

/** The parts of an inventory file the tests change. */
export interface InventoryDoc {
  manager: { url: string; password: unknown };
  ssh: Record<string, unknown>;
  jobs: Record<string, unknown>;
  [key: string]: unknown;
}

/** Writes `<stateDir>/<file>`: the testbed's inventory with `patch` applied to its parsed YAML. */
export function inventoryVariant(tb: TestbedInfo, file: string, patch: (doc: InventoryDoc) => void): string {
  const doc = parse(readFileSync(tb.inventoryPath, 'utf8')) as InventoryDoc;
  patch(doc);
  const out = path.join(tb.stateDir, file);
  writeFileSync(out, stringify(doc));
  return out;
}

/** The message's text and blocks as one string. */
export function messageText(s: Stack, ts: string, channel = OPS): string {
  const m = s.double.store.findMessage(channel, ts);
  return m ? `${m.text}\n${blocksText(m.blocks)}` : '';
}

export function waitForState(s: Stack, ts: string, re: RegExp, timeoutMs = 60_000): Promise<string> {
  return s.double.waitFor(
    () => {
      const t = messageText(s, ts);
      return re.test(t) ? t : undefined;
    },
    { timeoutMs },
  );
}

const FINAL = /— (awaiting confirmation|refused|noop|completed|failed|partly done|cancelled)/;

/** Sends `/flexvdi <text>` and waits for the plan (or refusal / no-op / failure) of that command. */
export async function planOf(
  s: Stack,
  text: string,
  user?: string,
): Promise<{ ts: string; text: string; confirmId?: string }> {
  const before = new Set(s.double.messages(OPS).map((m) => m.ts));
  const res = await s.send(text, user ? { user } : {});
  if (res.status !== 200) throw new Error(`send ${text}: HTTP ${res.status}`);
  const body = res.body ? (JSON.parse(res.body) as { text?: string }) : {};
  if (body.text) throw new Error(`refused at once: ${body.text}`);
  const msg = await s.double.waitFor(
    () =>
      s.double
        .messages(OPS)
        .find((m) => !before.has(m.ts) && m.text.startsWith(`/flexvdi ${text} —`) && FINAL.test(m.text)),
    { timeoutMs: 60_000 },
  );
  const confirmId = findButtonValue(msg.blocks, CONFIRM_ACTION);
  return { ts: msg.ts, text: messageText(s, msg.ts), ...(confirmId ? { confirmId } : {}) };
}

/** Plan, Confirm, and wait for the job's final state; returns the final message text and the job id. */
export async function runConfirmed(
  s: Stack,
  text: string,
  timeoutMs = 120_000,
): Promise<{ ts: string; jobId: string; text: string; plan: string }> {
  const plan = await planOf(s, text);
  if (!plan.confirmId) throw new Error(`no Confirm button for ${text}:\n${plan.text}`);
  await s.click(OPS, plan.ts);
  const jobId = runJobIdFor(plan.confirmId);
  const done = await waitForState(s, plan.ts, /— (completed|failed|partly done|cancelled)/, timeoutMs);
  return { ts: plan.ts, jobId, text: done, plan: plan.text };
}

/** A file on a Host, read inside the Host (null when absent). */
export async function hostFile(tbName: string, host: string, file: string): Promise<string | null> {
  const out = await onHost(tbName, host, 'if [ -f "$1" ]; then cat "$1"; else echo "@@absent"; fi', [file]);
  return out === '@@absent\n' ? null : out;
}

/**
 * Runs a script inside a Host. Right after `testbed replace` the Host may not be enterable for a moment:
 * host-init prints "ready" just before it execs into the holder process that runOnHost looks for.
 */
export async function onHost(tbName: string, host: string, script: string, params: string[] = []) {
  for (let i = 0; ; i++) {
    try {
      const r = await runOnHost({ name: tbName, host, log: quietLog }, script, params);
      if (r.code !== 0) throw new Error(`on ${host}: ${script}: exit ${r.code}: ${r.stderr}`);
      return r.stdout;
    } catch (err) {
      if ((err as { code?: string }).code !== 'testbed.not_running' || i >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface HostKeys {
  name: string;
  /** `type base64` of the flexvdi user's public key. */
  flexvdi: string;
  /** `type base64` of the host key. */
  hostKey: string;
}

/** The keys a Host has now, read inside it. */
export async function keysOf(tbName: string, host: string, home = '/home/flexvdi'): Promise<HostKeys> {
  const two = (l: string | null) => (l ?? '').trim().split(/\s+/).slice(0, 2).join(' ');
  return {
    name: host,
    flexvdi: two(await hostFile(tbName, host, `${home}/.ssh/id_ed25519.pub`)),
    hostKey: two(await hostFile(tbName, host, '/etc/ssh/ssh_host_ed25519_key.pub')),
  };
}

export const countLines = (text: string | null, key: string): number =>
  (text ?? '').split('\n').filter((l) => l.includes(key)).length;

/**
 * Asserts the mesh among `members`: on every member, each member's flexvdi key exactly once in
 * authorized_keys and each member's host key exactly once in /etc/ssh/ssh_known_hosts. Returns the problems.
 */
export async function meshProblems(tbName: string, members: readonly HostKeys[]): Promise<string[]> {
  const problems: string[] = [];
  for (const m of members) {
    const ak = await hostFile(tbName, m.name, '/home/flexvdi/.ssh/authorized_keys');
    const kh = await hostFile(tbName, m.name, '/etc/ssh/ssh_known_hosts');
    for (const k of members) {
      const a = countLines(ak, k.flexvdi.split(' ')[1]!);
      const h = countLines(kh, k.hostKey.split(' ')[1]!);
      if (a !== 1) problems.push(`${m.name}: ${a} lines with ${k.name}'s flexvdi key`);
      if (h !== 1) problems.push(`${m.name}: ${h} lines with ${k.name}'s host key`);
    }
  }
  return problems;
}

/** Real OpenSSH as flexvdi from one Host to another, strict host key checking. */
export async function sshBetween(
  tbName: string,
  from: string,
  toIp: string,
): Promise<{ code: number; stderr: string }> {
  const r = await runOnHost(
    { name: tbName, host: from, log: quietLog },
    'runuser -u flexvdi -- ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 "flexvdi@$1" true',
    [toIp],
  );
  return { code: r.code, stderr: r.stderr };
}

export const fingerprintOfLine = (typeAndKey: string): string =>
  fingerprintSha256(Buffer.from(typeAndKey.split(' ')[1]!, 'base64'));
