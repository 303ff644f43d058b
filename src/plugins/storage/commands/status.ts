/**
 * `/flexvdi storage status`: what the Manager knows about shared storage — Image Storages, Volumes, and
 * where the Manager's own disk image lives (on shared storage means the Manager can move between Hosts).
 * Read-only. Names and paths come from the Manager: they are escaped where they are shown.
 */
import { z } from 'zod';
import { NO_PINS, type StepContext } from '../../../core/plugin.js';
import { md } from '../../../core/text.js';
import type { ImageStorage, ManagerDisk, Volume } from '../../../manager/index.js';
import { command, type StorageDeps, step } from '../define.js';

const args = z.object({}).strict();
type Args = z.output<typeof args>;

// The Manager client's shapes, checked again when the step's result is read back from a checkpoint.
const imageStorageSchema: z.ZodType<ImageStorage> = z.object({
  storageId: z.string(),
  name: z.string(),
  device: z.string(),
  cluster: z.string(),
  createdAt: z.string(),
});
const volumeSchema: z.ZodType<Volume> = z.object({
  volumeId: z.string(),
  name: z.string(),
  imageStorage: z.string(),
  sizeGb: z.number(),
  createdAt: z.string(),
});
const managerDiskSchema: z.ZodType<ManagerDisk> = z.object({
  path: z.string(),
  onSharedStorage: z.boolean(),
  imageStorage: z.string().nullable(),
  movedAt: z.string().nullable(),
});

const ask = step({
  id: 'manager',
  title: 'Ask the Manager',
  output: z.object({
    storages: z.array(imageStorageSchema),
    volumes: z.array(volumeSchema),
    disk: managerDiskSchema,
  }),
  run: async (ctx: StepContext<Args, null, StorageDeps>) => {
    const { manager } = ctx.services;
    const [storages, volumes, disk] = await Promise.all([
      manager.listImageStorages(),
      manager.listVolumes(),
      manager.getManagerDisk(),
    ]);
    return { storages, volumes, disk };
  },
});

export const storageStatusCommand = command({
  id: 'storage status',
  summary: "Image Storages, Volumes and the Manager's disk location, as the Manager reports them",
  examples: ['/flexvdi storage status'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({ summary: md`Ask the Manager about shared storage`, sections: [], warnings: [] }),
  steps: [ask],
  result: (ctx) => {
    const r = ctx.result(ask);
    return {
      summary: md`${r.storages.length} Image Storage(s), ${r.volumes.length} Volume(s); the Manager's disk is ${r.disk.onSharedStorage ? 'on shared storage (HA ready)' : 'on local storage'}`,
      sections: [
        {
          title: md`Image Storages`,
          lines: r.storages.length
            ? r.storages.map((s) => md`• *${s.name}* on \`${s.device}\` (cluster ${s.cluster})`)
            : [md`none`],
        },
        {
          title: md`Volumes`,
          lines: r.volumes.length
            ? r.volumes.map((v) => md`• *${v.name}* ${v.sizeGb} GB in ${v.imageStorage}`)
            : [md`none`],
        },
        { title: md`Manager's disk`, lines: [md`\`${r.disk.path}\``] },
      ],
    };
  },
});
