/**
 * Shared storage. `storage status`: Image Storages, Volumes and the Manager's disk, as the Manager reports
 * them. `storage devices [--hosts h1,h2]`: the block devices of the registered Hosts (or of the Hosts named)
 * by stable id, read over SSH — size, what is on them (empty, OCFS2 with label, cluster and slots, another
 * file system), where they are mounted, and which of them every Host sees (devices.ts reads a Host,
 * device-merge.ts matches devices across Hosts, devices-view.ts renders).
 *
 * Depends on the registration plugin (which Hosts are registered, resolving `--hosts` names) and the OCFS2
 * plugin, whose API the procedures to come (create-volume) use.
 */
import { definePlugin } from '../../core/plugin.js';
import { ocfs2Plugin } from '../ocfs2/index.js';
import { registrationPlugin } from '../registration/index.js';
import { storageDevicesCommand } from './commands/devices.js';
import { storageStatusCommand } from './commands/status.js';
import type { StorageDeps } from './define.js';

export const storagePlugin = definePlugin<undefined, StorageDeps>({
  name: 'storage',
  dependsOn: [registrationPlugin, ocfs2Plugin],
  deps: (use) => ({ registration: use(registrationPlugin), ocfs2: use(ocfs2Plugin) }),
  commands: [storageStatusCommand, storageDevicesCommand],
});
