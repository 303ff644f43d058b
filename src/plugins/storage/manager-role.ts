/**
 * What the storage plugin tells the monitor (and replace-host) about a Host through `hostRoles`: that it runs
 * the flexVDI Manager, from which image, when the Manager's lease runs out after the Host is lost (the moment
 * another Host may start it) and, when the image is on a shared Volume, the Hosts that could start it — the
 * alert offers each as a button (`manager start-on <host>`). Read by the monitor at start, after each job and
 * every 10 min while the Host is healthy, so the alert knows it when the Host is gone. Never throws: a Host that cannot say has no role here.
 */
import type { InventoryHost } from '../../config.js';
import type { HostRole, PluginServices } from '../../core/plugin.js';
import { md } from '../../core/text.js';
import { targetOf } from '../../services.js';
import { fanout } from '../../ssh/index.js';
import type { StorageDeps } from './define.js';
import { imageStorageOf, leaseMsOf, MANAGER_CONF, managerStatus, onSharedStorage } from './manager-host.js';
import { mountPointOf, mountState } from './volume-ops.js';

export async function managerRoles(
  services: PluginServices,
  deps: StorageDeps,
  host: InventoryHost,
  signal: AbortSignal,
): Promise<HostRole[]> {
  try {
    const t = targetOf(host);
    const status = await managerStatus(services.ssh, t, signal);
    if (!status.running) return [];
    if (!onSharedStorage(status.disk))
      return [
        {
          plugin: 'storage',
          role: md`runs the flexVDI Manager from \`${status.disk}\`, local to it: no other Host can start it (\`/flexvdi manager move-to ${'<volume>'}\` makes that possible)`,
        },
      ];
    const leaseMs = leaseMsOf(await services.ssh.readFile(t, MANAGER_CONF, { signal }));
    const dir = mountPointOf(imageStorageOf(status.disk) ?? '');
    const reg = await deps.registration.registeredHosts({ fallback: 'inventory', signal });
    const others = reg.hosts.filter((h) => h.name !== host.name);
    // A Host can take it over when it has the Volume mounted and its conf points at this very image (a
    // Host left on an older image by an unfinished move would start that one instead).
    const seen = await fanout(
      others,
      async (h) => ({
        mount: await mountState(services.ssh, targetOf(h), dir, '', signal),
        status: await managerStatus(services.ssh, targetOf(h), signal),
      }),
      { concurrency: services.config.inventory.ssh.concurrency, signal },
    );
    const able = seen.flatMap((r) =>
      r.ok && r.value.mount.mounted?.fstype === 'ocfs2' && r.value.status.disk === status.disk
        ? [r.target.name]
        : [],
    );
    return [
      {
        plugin: 'storage',
        role: md`runs the flexVDI Manager (image \`${status.disk}\` on a shared Volume${able.length ? md`; ${able.join(', ')} can start it` : md`; no other Host has the Volume mounted`})`,
        onLoss: [
          {
            afterMs: leaseMs,
            what: md`the Manager's lease runs out: another Host may start it (\`/flexvdi manager start-on ${'<host>'}\`)`,
          },
        ],
        offers: able.slice(0, 3).map((h) => ({
          label: `Start the Manager on ${h}`.slice(0, 75),
          command: 'manager start-on',
          host: h,
          // Once the lease has surely run out (it is renewed every quarter of its time; 2 s for clocks).
          auto: { afterMs: leaseMs + 2000 },
        })),
      },
    ];
  } catch {
    return [];
  }
}
