import { definePlugin } from '../../core/plugin.js';
import { hostsCommand } from './commands/hosts.js';

export const registrationPlugin = definePlugin({
  name: 'registration',
  commands: [hostsCommand],
});
