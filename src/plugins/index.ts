/** Every plugin the product ships; the registry validates them at boot. */
import { ocfs2Plugin } from './ocfs2/index.js';
import { registrationPlugin } from './registration/index.js';
import { storagePlugin } from './storage/index.js';

export const builtinPlugins = [registrationPlugin, ocfs2Plugin, storagePlugin] as const;

/** The typed job names: every command id the shipped plugins declare. */
export type CommandId = (typeof builtinPlugins)[number]['commands'][number]['id'];
