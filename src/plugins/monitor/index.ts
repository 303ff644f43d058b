/**
 * The people-facing side of the heartbeat monitor: `/flexvdi alerts` (open incidents and maintenance
 * windows), `/flexvdi status` (every Host at a glance), `/flexvdi maintenance` (mute a Host's alerts for a
 * while) and `/flexvdi diagnose` (one Host from every side; the alerts' Diagnose button runs it). The monitor
 * itself (src/monitor) watches the Hosts and posts; this plugin reads and writes its board
 * (src/monitor/board.ts) through the services, and asks the registration plugin (which Hosts, the Manager's
 * view) and the OCFS2 plugin (membership, drift) through their APIs.
 */
import { definePlugin } from '../../core/plugin.js';
import { ocfs2Plugin } from '../ocfs2/index.js';
import { registrationPlugin } from '../registration/index.js';
import { alertsCommand } from './commands/alerts.js';
import { diagnoseCommand } from './commands/diagnose.js';
import { maintenanceCommand } from './commands/maintenance.js';
import { statusCommand } from './commands/status.js';
import type { MonitorDeps } from './define.js';

export const monitorPlugin = definePlugin<undefined, MonitorDeps>({
  name: 'monitor',
  dependsOn: [registrationPlugin, ocfs2Plugin],
  deps: (use) => ({ registration: use(registrationPlugin), ocfs2: use(ocfs2Plugin) }),
  commands: [statusCommand, alertsCommand, maintenanceCommand, diagnoseCommand],
});
