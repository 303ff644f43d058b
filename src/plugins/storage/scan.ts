/**
 * Reading the block devices of a set of Hosts: one script per Host over SSH (devices-script.ts), in parallel,
 * parsed by devices.ts. A Host that does not answer, or answers something that is not the script's complete
 * output, is a failed read with the reason for the user; the others are read. Used by `storage devices` (to
 * show them) and `storage create-volume` (to find the device, at the plan and again before formatting).
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import type { PluginServices } from '../../core/plugin.js';
import { AppError } from '../../errors.js';
import { targetOf } from '../../services.js';
import { fanout } from '../../ssh/index.js';
import type { HostRead } from './device-merge.js';
import { type HostDevices, hostDevicesSchema, parseHostDevices } from './devices.js';
import { DEVICES_SCRIPT } from './devices-script.js';
import { unreadableMessage } from './devices-view.js';
import { StorageErrorCode } from './errors.js';

/**
 * How long one Host's scan may take: every probe is bounded by `timeout` on the Host, so this only ends a
 * scan that hangs elsewhere (many devices each near their limit, a stuck findmnt).
 */
export const SCAN_TIMEOUT_MS = 120_000;

export const hostReadSchema = z.discriminatedUnion('ok', [
  z.object({ host: z.string(), ok: z.literal(true), value: hostDevicesSchema }),
  z.object({ host: z.string(), ok: z.literal(false), error: z.string() }),
]);

/**
 * One Host's devices (one SSH command), or `storage.devices_unreadable` when its answer is not the complete
 * format or the script did not exit 0.
 */
export async function readHostDevices(
  services: Pick<PluginServices, 'ssh'>,
  h: InventoryHost,
  signal: AbortSignal,
): Promise<HostDevices> {
  const r = await services.ssh.exec(targetOf(h), ['sh', '-c', DEVICES_SCRIPT], {
    signal,
    allowNonZero: true,
    timeoutMs: SCAN_TIMEOUT_MS,
  });
  const parsed = parseHostDevices(r.stdout);
  if (parsed.ok && r.code === 0) return parsed.value;
  const error = parsed.ok ? 'the scan did not finish cleanly' : parsed.error;
  throw new AppError(StorageErrorCode.devicesUnreadable, `device scan on ${h.name}: ${error} ${r.stderr}`, {
    userMessage: unreadableMessage(h.name, r.code ?? r.signal, error, r.stderr),
  });
}

/** Every Host's devices, in parallel; `onHost` hears each Host start, finish or fail (progress). */
export async function scanHosts(
  services: Pick<PluginServices, 'ssh' | 'config'>,
  hosts: readonly InventoryHost[],
  signal: AbortSignal,
  onHost: (host: string, state: 'running' | 'ok' | 'failed', detail?: string) => void = () => {},
): Promise<HostRead[]> {
  const results = await fanout(
    hosts,
    async (h) => {
      onHost(h.name, 'running');
      const devices = await readHostDevices(services, h, signal);
      onHost(h.name, 'ok');
      return devices;
    },
    { concurrency: services.config.inventory.ssh.concurrency, signal },
  );
  signal.throwIfAborted();
  return results.map((r): HostRead => {
    if (r.ok) return { host: r.target.name, ok: true, value: r.value };
    onHost(r.target.name, 'failed', r.error.code);
    return { host: r.target.name, ok: false, error: r.error.userMessage };
  });
}
