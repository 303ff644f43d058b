/** The monitor plugin's deps (the APIs of the plugins it depends on) and its typed command and step helpers. */
import { commandsFor } from '../../core/plugin.js';
import type { Ocfs2Api } from '../ocfs2/api.js';
import type { RegistrationApi } from '../registration/api.js';

export interface MonitorDeps {
  readonly registration: RegistrationApi;
  readonly ocfs2: Ocfs2Api;
}

export const { command, step } = commandsFor<MonitorDeps>();
