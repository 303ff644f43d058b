/**
 * What the motd plugin offers its dependants: a Host's /etc/motd. A plugin that wants it declares
 * `dependsOn: [motdPlugin]` and `deps: (use) => ({ motd: use(motdPlugin) })`, then calls
 * `deps.motd.motdOf(host, signal)`; it never reads the file itself.
 */
import type { InventoryHost } from '../../../src/config.js';

export interface MotdApi {
  /** The Host's /etc/motd, or null when it has none. Throws the SSH layer's coded errors (`ssh.*`). */
  motdOf(host: InventoryHost, signal: AbortSignal): Promise<string | null>;
}
