/**
 * An example plugin on the plugin contract (v2), written for docs/plugin-guide.md: the message of the day on
 * every registered Host. `motd show` reads it; `motd set <text>` plans, is confirmed, writes and reads back.
 *
 * Depends on the registration plugin for which Hosts are registered (`deps.registration`); offers `MotdApi`
 * to its own dependants. To install it, add `motdPlugin` to the list the runtime gets (`builtinPlugins` in
 * src/plugins/index.ts, or `startStack({ plugins: [...builtinPlugins, motdPlugin] })` in a test).
 */
import { definePlugin } from '../../../src/core/plugin.js';
import { registrationPlugin } from '../../../src/plugins/registration/index.js';
import type { MotdApi } from './api.js';
import { motdSetCommand } from './commands/set.js';
import { motdShowCommand } from './commands/show.js';
import type { MotdDeps } from './define.js';
import { readMotd } from './motd-file.js';

export type { MotdApi } from './api.js';

export const motdPlugin = definePlugin<MotdApi, MotdDeps>({
  name: 'motd',
  dependsOn: [registrationPlugin],
  deps: (use) => ({ registration: use(registrationPlugin) }),
  api: (services) => ({ motdOf: (host, signal) => readMotd(services.ssh, host, signal) }),
  // What a Host does for this plugin, for replace-host and alerts (see the ocfs2 plugin for a real one): a
  // message of the day gives a Host no role, so it says nothing.
  hostRoles: async () => [],
  commands: [motdShowCommand, motdSetCommand],
});
