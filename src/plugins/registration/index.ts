/** Host registration: list the Hosts, register a new one, replace a failed one (see each command's file). */
import { definePlugin } from '../../core/plugin.js';
import { hostsCommand } from './commands/hosts.js';
import { registerHostCommand } from './commands/register-host.js';
import { replaceHostCommand } from './commands/replace-host.js';

export const registrationPlugin = definePlugin({
  name: 'registration',
  commands: [hostsCommand, registerHostCommand, replaceHostCommand],
});
