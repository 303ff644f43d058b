/** Every plugin the product ships; the registry validates them at boot. */
import type { AnyPlugin } from '../core/plugin.js';
import { monitorPlugin } from './monitor/index.js';
import { ocfs2Plugin } from './ocfs2/index.js';
import { registrationPlugin } from './registration/index.js';
import { storagePlugin } from './storage/index.js';

export const builtinPlugins: readonly AnyPlugin[] = [
  registrationPlugin,
  ocfs2Plugin,
  storagePlugin,
  monitorPlugin,
];
