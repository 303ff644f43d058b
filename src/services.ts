/**
 * The live clients plugins use, built from the Config: the SSH pool (pinned host keys, one connection per
 * Host) and the Manager client. Both are lazy: nothing connects, and no secret is read, until first use.
 * The worker gives them to the registry, which adds what the plugins contribute (`PluginServices`).
 */
import type { Logger } from 'pino';
import type { Config, InventoryHost } from './config.js';
import { createManagerClient, type ManagerClient } from './manager/index.js';
import { createSshPool, type SshPool, type SshTarget } from './ssh/index.js';

export interface Services {
  ssh: SshPool;
  manager: ManagerClient;
}

export function createServices(config: Config, log: Logger): Services {
  const inv = config.inventory;
  const ssh = createSshPool({
    privateKey: inv.ssh.privateKeyPath,
    knownHostsPath: inv.ssh.knownHostsPath,
    user: inv.ssh.user,
    connectTimeoutMs: inv.ssh.connectTimeoutMs,
    commandTimeoutMs: inv.ssh.commandTimeoutMs,
    log: log.child({ component: 'ssh' }),
  });
  const manager = createManagerClient({
    url: inv.manager.url,
    username: inv.manager.username,
    password: config.managerPassword,
    tls: {
      ...(inv.manager.tls.fingerprint256 ? { fingerprint256: inv.manager.tls.fingerprint256 } : {}),
      ...(inv.manager.tls.caFile ? { caFile: inv.manager.tls.caFile } : {}),
      insecure: inv.manager.tls.insecure,
    },
    log: log.child({ component: 'manager' }),
  });
  return { ssh, manager };
}

export function targetOf(h: InventoryHost): SshTarget {
  return { name: h.name, host: h.ip, port: h.port, fqdn: h.fqdn, ...(h.user ? { user: h.user } : {}) };
}
