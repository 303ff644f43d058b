/**
 * Host registration: list the Hosts, register a new one, replace a failed one (see each command's file).
 * Its API (api.ts) tells dependants which Hosts are registered and what a Host looks like.
 */
import { definePlugin } from '../../core/plugin.js';
import type { RegistrationApi } from './api.js';
import { hostsCommand } from './commands/hosts.js';
import { registerHostCommand } from './commands/register-host.js';
import { replaceHostCommand } from './commands/replace-host.js';
import { createRegistrationApi } from './registry-api.js';

export type { RegisteredHosts, RegistrationApi } from './api.js';

export const registrationPlugin = definePlugin<RegistrationApi>({
  name: 'registration',
  deps: () => ({}),
  api: (s) => createRegistrationApi(s),
  commands: [hostsCommand, registerHostCommand, replaceHostCommand],
});
