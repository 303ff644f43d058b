/**
 * Shared parts of the OCFS2 tests: registering Hosts with the Manager stand-in (straight through its API —
 * what the registration plugin ends with, without its key exchange), sending a modal submission as Slack
 * does, and reading the real `o2cb list-cluster` from inside the Hosts (not through the product). Driving a
 * command is test/support/flow.ts's; reading a Host's files, test/support/hosts.ts's.
 */
import { type Config, loadConfig } from '../../src/config.js';
import { CLUSTER_CONF, type ClusterModel, modelOf } from '../../src/plugins/ocfs2/cluster-conf.js';
import { createServices } from '../../src/services.js';
import { SLACK_DOUBLE_IDS, sendSigned } from '../../src/slack-double/index.js';
import { runOnHost } from '../../src/testbed/index.js';
import type { Stack } from '../support/harness.js';
import { onHost } from '../support/hosts.js';
import { quietLog } from '../testbed/helpers.js';

export { quietLog };

export function configOf(inventoryPath: string): Config {
  return loadConfig({ FLEXVDI_CONFIG: inventoryPath });
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
