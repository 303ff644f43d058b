/**
 * The built-in local Slack workspace (the Slack double with its console) standing in for Slack: a config
 * whose Slack credentials and API address are the workspace's own, for `start --local-slack` and `demo`.
 */
import { randomBytes } from 'node:crypto';
import { type Config, Secret } from './config.js';
import type { Logger } from './log.js';
import type { ClusterPanel } from './slack-double/console-state.js';

export interface LocalSlack {
  cfg: Config;
  url: string;
  setBotUrl(u: string): void;
  close(): Promise<void>;
}

/** The demo console's port unless told otherwise (a free one when it is taken). */
export const DEMO_PORT = 8080;

export interface LocalSlackOptions {
  /** The console's port (default a free one); a busy port falls back to a free one with a warning. */
  port?: number | undefined;
  cluster?: ClusterPanel;
}

export async function withLocalSlack(
  cfg: Config,
  log: Logger,
  o: LocalSlackOptions = {},
): Promise<LocalSlack> {
  const { startSlackDouble } = await import('./slack-double/index.js');
  const { consoleUsersFor } = await import('./slack-double/console-state.js');
  const botToken = `xoxb-local-${randomBytes(8).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const options = {
    botToken,
    signingSecret,
    consoleUsers: consoleUsersFor(cfg.inventory.slack.admins),
    log: log.child({ component: 'local-slack' }),
    ...(o.cluster ? { cluster: o.cluster } : {}),
  };
  const double = await startSlackDouble({ ...options, ...(o.port ? { port: o.port } : {}) }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE' || !o.port) throw err;
      log.warn({ port: o.port }, 'the console port is taken: using a free one');
      return startSlackDouble(options);
    },
  );
  const local: Config = Object.freeze({
    ...cfg,
    slack: Object.freeze({
      signingSecret: new Secret(signingSecret),
      botToken: new Secret(botToken),
      appToken: undefined,
      apiUrl: double.apiUrl,
    }),
  });
  return { cfg: local, setBotUrl: (u) => double.setBotUrl(u), url: double.url, close: () => double.close() };
}
