/**
 * Shared storage as the Manager sees it. Depends on the registration and OCFS2 plugins: `storage status`
 * only asks the Manager, but the storage procedures to come (devices, create-volume) use the OCFS2 API.
 */
import { definePlugin } from '../../core/plugin.js';
import { ocfs2Plugin } from '../ocfs2/index.js';
import { registrationPlugin } from '../registration/index.js';
import { storageStatusCommand } from './commands/status.js';
import type { StorageDeps } from './define.js';

export const storagePlugin = definePlugin<undefined, StorageDeps>({
  name: 'storage',
  dependsOn: [registrationPlugin, ocfs2Plugin],
  deps: (use) => ({ registration: use(registrationPlugin), ocfs2: use(ocfs2Plugin) }),
  commands: [storageStatusCommand],
});
