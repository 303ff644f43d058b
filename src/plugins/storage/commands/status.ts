/**
 * `/flexvdi storage status`: what the Manager knows about shared storage — Image Storages, Volumes, and
 * where the Manager's own disk image lives (on shared storage means the Manager can move between Hosts).
 * Read-only.
 */
import { z } from 'zod';
import { defineCommand } from '../../../core/plugin.js';
import type { ImageStorage, ManagerDisk, Volume } from '../../../manager/index.js';
import { servicesOf } from '../../../services.js';

export const storageStatusCommand = defineCommand({
  id: 'storage status',
  summary: "Image Storages, Volumes and the Manager's disk location, as the Manager reports them",
  examples: ['/flexvdi storage status'],
  args: z.object({}).strict(),
  positionals: [],
  mutates: false,
  access: 'anyone',
  plan: () => ({ summary: 'Ask the Manager about shared storage', sections: [], warnings: [] }),
  steps: [
    {
      id: 'manager',
      title: 'Ask the Manager',
      run: async (ctx) => {
        const { manager } = servicesOf(ctx.services.extra);
        const [storages, volumes, disk] = await Promise.all([
          manager.listImageStorages(),
          manager.listVolumes(),
          manager.getManagerDisk(),
        ]);
        return { storages, volumes, disk };
      },
    },
  ],
  result: ({ results }) => {
    const r = results['manager'] as { storages: ImageStorage[]; volumes: Volume[]; disk: ManagerDisk };
    return {
      summary: `${r.storages.length} Image Storage(s), ${r.volumes.length} Volume(s); the Manager's disk is ${r.disk.onSharedStorage ? 'on shared storage (HA ready)' : 'on local storage'}`,
      sections: [
        {
          title: 'Image Storages',
          lines: r.storages.length
            ? r.storages.map((s) => `• *${s.name}* on \`${s.device}\` (cluster ${s.cluster})`)
            : ['none'],
        },
        {
          title: 'Volumes',
          lines: r.volumes.length
            ? r.volumes.map((v) => `• *${v.name}* ${v.sizeGb} GB in ${v.imageStorage}`)
            : ['none'],
        },
        { title: "Manager's disk", lines: [`\`${r.disk.path}\``] },
      ],
    };
  },
});
