/** The OCFS2 plugin's deps (the APIs of the plugins it depends on) and its typed command and step helpers. */
import { commandsFor } from '../../core/plugin.js';
import type { RegistrationApi } from '../registration/api.js';

export interface Ocfs2Deps {
  readonly registration: RegistrationApi;
}

export const { command, step } = commandsFor<Ocfs2Deps>();
