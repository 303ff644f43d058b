import { definePlugin } from '../../core/plugin.js';
import { storageStatusCommand } from './commands/status.js';

export const storagePlugin = definePlugin({
  name: 'storage',
  dependsOn: ['registration', 'ocfs2'],
  commands: [storageStatusCommand],
});
