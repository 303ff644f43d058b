/**
 * Shared parts of the OCFS2 tests: registering Hosts with the Manager stand-in (straight through its API —
 * what the registration plugin ends with, without its key exchange), driving a command through plan →
 * Confirm → result in the Slack double, sending a modal submission as Slack does, and reading the Hosts'
 * files and the real `o2cb list-cluster` from inside the Hosts (not through the product).
 */
import { runJobIdFor } from '../../src/bot/actions.js';
import { type Config, loadConfig } from '../../src/config.js';
import { CLUSTER_CONF, type ClusterModel, modelOf } from '../../src/plugins/ocfs2/cluster-conf.js';
import { createServices } from '../../src/services.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import { SLACK_DOUBLE_IDS, sendSigned } from '../../src/slack-double/index.js';
import { runOnHost } from '../../src/testbed/index.js';
import { blocksText, findButtonValue, OPS, type Stack } from '../support/harness.js';
import { quietLog } from '../testbed/helpers.js';

export { quietLog };

export function configOf(inventoryPath: string): Config {
  return loadConfig({ FLEXVDI_CONFIG: inventoryPath });
}

/** Runs a script inside a Host (no SSH); throws on a non-zero exit. */
export async function onHost(
  tb: string,
  host: string,
  script: string,
  params: string[] = [],
): Promise<string> {
  const r = await runOnHost({ name: tb, host, log: quietLog }, script, params);
  if (r.code !== 0) throw new Error(`on ${host}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A file on a Host, read inside it (null when absent). */
export async function hostFile(tb: string, host: string, file: string): Promise<string | null> {
  const out = await onHost(tb, host, 'if [ -f "$1" ]; then cat "$1"; else printf @@absent; fi', [file]);
  return out === '@@absent' ? null : out;
}

/** `ls -A /etc/ocfs2` inside the Host, sorted. */
export async function ocfs2Files(tb: string, host: string): Promise<string[]> {
  return (await onHost(tb, host, 'ls -A /etc/ocfs2')).split('\n').filter(Boolean).sort();
}

/** The real `o2cb --config-file=/etc/ocfs2/cluster.conf list-cluster <name>` inside the Host, parsed. */
export async function listCluster(tb: string, host: string, name: string): Promise<ClusterModel | undefined> {
  const out = await onHost(tb, host, 'o2cb --config-file="$1" list-cluster "$2"', [CLUSTER_CONF, name]);
  return modelOf(out, name).model;
}

/** `o2cb cluster-status` inside the Host: the cluster name online, or null. */
export async function onlineCluster(tb: string, host: string): Promise<string | null> {
  const r = await runOnHost({ name: tb, host, log: quietLog }, 'o2cb cluster-status');
  return /^Cluster '([^']+)' is online/.exec(r.stdout)?.[1] ?? null;
}

/** Registers Hosts with the Manager stand-in under their FQDN, with their real keys. */
export async function registerWithManager(tb: string, config: Config, names: string[]): Promise<void> {
  const services = createServices(config, quietLog);
  try {
    for (const n of names) {
      const h = config.inventory.hosts.find((x) => x.name === n)!;
      const pub = (await onHost(tb, n, 'cat /home/flexvdi/.ssh/id_ed25519.pub')).trim();
      const hostKey = (await onHost(tb, n, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).trim();
      await services.manager.registerHost({ hostId: h.fqdn, sshPubkey: pub, sshServerKey: hostKey });
    }
  } finally {
    await services.manager.logout();
    await services.ssh.close();
  }
}

/** Waits for `check` to return something (the double's default of 5 s is short for a loaded machine). */
export function eventually<T>(s: Stack, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  return s.double.waitFor(check, { timeoutMs });
}

/** The message's text and blocks as one string. */
export function messageText(s: Stack, ts: string): string {
  const m = s.double.store.findMessage(OPS, ts);
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

/** Sends `/flexvdi <text>` and waits for that command's plan (or refusal, no-op, result). */
export async function planOf(
  s: Stack,
  text: string,
  user?: string,
): Promise<{ ts: string; text: string; confirmId?: string }> {
  const before = new Set(s.double.messages(OPS).map((m) => m.ts));
  const res = await s.send(text, user ? { user } : {});
  if (res.status !== 200) throw new Error(`send ${text}: HTTP ${res.status}`);
  if (res.body && (JSON.parse(res.body) as { text?: string }).text)
    throw new Error(`refused at once: ${res.body}`);
  return waitForNewPlan(s, before, (m) => m.startsWith(`/flexvdi ${text} —`));
}

/** Waits for a job message not in `before` whose text passes `match`, in a final or awaiting state. */
export async function waitForNewPlan(
  s: Stack,
  before: Set<string>,
  match: (text: string) => boolean,
): Promise<{ ts: string; text: string; confirmId?: string }> {
  const msg = await s.double.waitFor(
    () => s.double.messages(OPS).find((m) => !before.has(m.ts) && match(m.text) && FINAL.test(m.text)),
    { timeoutMs: 60_000 },
  );
  const confirmId = findButtonValue(msg.blocks, CONFIRM_ACTION);
  return { ts: msg.ts, text: messageText(s, msg.ts), ...(confirmId ? { confirmId } : {}) };
}

/** Plan, Confirm, wait for the end; the final message text and the run job's id. */
export async function runConfirmed(s: Stack, text: string, timeoutMs = 120_000) {
  const plan = await planOf(s, text);
  if (!plan.confirmId) throw new Error(`no Confirm button for ${text}:\n${plan.text}`);
  await s.click(OPS, plan.ts);
  const done = await waitForState(s, plan.ts, /— (completed|failed|partly done|cancelled)/, timeoutMs);
  return { ts: plan.ts, jobId: runJobIdFor(plan.confirmId), text: done, plan: plan.text };
}

/** A `view_submission` as Slack sends it: signed, form-encoded `payload=`; returns the bot's HTTP answer. */
export async function submitView(
  s: Stack,
  view: { id: string; callback_id: string; private_metadata: string; hash: string },
  values: Record<string, string>,
  user: string,
): Promise<{ status: number; body: unknown }> {
  const payload = {
    type: 'view_submission',
    team: { id: SLACK_DOUBLE_IDS.teamId, domain: SLACK_DOUBLE_IDS.teamDomain },
    user: { id: user, username: user, name: user, team_id: SLACK_DOUBLE_IDS.teamId },
    api_app_id: SLACK_DOUBLE_IDS.appId,
    token: 'dbl0verification0token',
    trigger_id: `${Date.now()}.1.${Math.random().toString(16).slice(2)}`,
    view: {
      ...view,
      type: 'modal',
      team_id: SLACK_DOUBLE_IDS.teamId,
      app_id: SLACK_DOUBLE_IDS.appId,
      bot_id: SLACK_DOUBLE_IDS.botId,
      root_view_id: view.id,
      previous_view_id: null,
      state: {
        values: Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, { [k]: { type: 'plain_text_input', value: v } }]),
        ),
      },
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
  const r = await sendSigned(
    s.botUrls[0]!,
    new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    {
      secret: s.double.signingSecret,
    },
  );
  return { status: r.status, body: r.body ? JSON.parse(r.body) : null };
}
