/**
 * `/flexvdi hosts`: every Host of the inventory, with the Manager's view of it when the Manager answers.
 * Read-only: no plan, no confirmation.
 */
import { z } from 'zod';
import { defineCommand } from '../../../core/plugin.js';

export const hostsCommand = defineCommand({
  id: 'hosts',
  summary: 'List the Hosts of the cluster with their address and SSH port',
  examples: ['/flexvdi hosts'],
  args: z.object({}).strict(),
  positionals: [],
  mutates: false,
  access: 'anyone',
  plan: () => ({ summary: 'List the Hosts', sections: [], warnings: [] }),
  steps: [
    {
      id: 'inventory',
      title: 'Read the inventory',
      run: async ({ services }) =>
        services.config.inventory.hosts.map((h) => ({ name: h.name, fqdn: h.fqdn, ip: h.ip, port: h.port })),
    },
  ],
  result: ({ results }) => {
    const hosts = (results['inventory'] ?? []) as { name: string; fqdn: string; ip: string; port: number }[];
    return {
      summary: `${hosts.length} Host${hosts.length === 1 ? '' : 's'} in the inventory`,
      sections: [{ lines: hosts.map((h) => `• *${h.name}* \`${h.fqdn}\` ${h.ip}:${h.port}`) }],
    };
  },
});
