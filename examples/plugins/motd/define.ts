/** The motd plugin's deps (the APIs of the plugins it depends on) and its typed command and step helpers. */
import { commandsFor } from '../../../src/core/plugin.js';
import type { RegistrationApi } from '../../../src/plugins/registration/api.js';

export interface MotdDeps {
  readonly registration: RegistrationApi;
}

export const { command, step } = commandsFor<MotdDeps>();
