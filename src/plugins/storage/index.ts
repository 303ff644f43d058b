/**
 * Shared storage. `storage status`: Image Storages, Volumes and the Manager's disk, as the Manager reports
 * them. `storage devices [--hosts h1,h2]`: the block devices of the registered Hosts (or of the Hosts named)
 * by stable id, read over SSH — size, what is on them (empty, OCFS2 with label, cluster and slots, another
 * file system), where they are mounted, and which of them every Host sees (devices.ts reads a Host,
 * device-merge.ts matches devices across Hosts, devices-view.ts renders). `storage create-volume`: a shared
 * device made an OCFS2 Image Storage every Host mounts (decide-volume.ts decides, volume-ops.ts acts on a
 * Host). `storage volumes`: where each Image Storage is mounted, slots and space, and drift with its fix.
 * `manager move-to <volume>`: the Manager's image onto a shared Volume (rollback on failure); `manager
 * start-on <host>`: failover from that image once the Manager is down and its lease expired — both through
 * the Host-side `flexvdi-manager` contract (manager-host.ts).
 *
 * Depends on the registration plugin (which Hosts are registered, resolving `--hosts` names) and the OCFS2
 * plugin, whose overview create-volume checks (the cluster online and identical on every Host).
 */
import { definePlugin } from '../../core/plugin.js';
import { ocfs2Plugin } from '../ocfs2/index.js';
import { registrationPlugin } from '../registration/index.js';
import { createVolumeCommand } from './commands/create-volume.js';
import { storageDevicesCommand } from './commands/devices.js';
import { moveToCommand } from './commands/move-to.js';
import { startOnCommand } from './commands/start-on.js';
import { storageStatusCommand } from './commands/status.js';
import { storageVolumesCommand } from './commands/volumes.js';
import type { StorageDeps } from './define.js';
import { managerRoles } from './manager-role.js';

export const storagePlugin = definePlugin<undefined, StorageDeps>({
  name: 'storage',
  dependsOn: [registrationPlugin, ocfs2Plugin],
  deps: (use) => ({ registration: use(registrationPlugin), ocfs2: use(ocfs2Plugin) }),
  hostRoles: managerRoles,
  commands: [
    storageStatusCommand,
    storageDevicesCommand,
    createVolumeCommand,
    storageVolumesCommand,
    moveToCommand,
    startOnCommand,
  ],
});
