import { definePlugin } from '../../core/plugin.js';
import { ocfs2StatusCommand } from './commands/status.js';

export const ocfs2Plugin = definePlugin({
  name: 'ocfs2',
  dependsOn: ['registration'],
  commands: [ocfs2StatusCommand],
});
