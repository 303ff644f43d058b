/** Every plugin the product ships; the registry validates them at boot. */
import { registrationPlugin } from './registration/index.js';

export const builtinPlugins = [registrationPlugin] as const;

/** The typed job names: every command id the shipped plugins declare. */
export type CommandId = (typeof builtinPlugins)[number]['commands'][number]['id'];
