/** A test plugin whose commands need the admin to type the name to confirm (modals end to end). */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { defineCommand, definePlugin, NO_PINS, type Plugin } from '../../src/core/plugin.js';
import { md } from '../../src/core/text.js';

/** `guard wipe <name>`: type the name to confirm; `guard both <name>`: the same, and four eyes. */
export function guardPlugin(redis: Redis, traceKey: string): Plugin<undefined> {
  const guarded = (id: string) =>
    defineCommand({
      id,
      summary: 'Wipe something (test)',
      examples: [`/flexvdi ${id} vol1`],
      args: z.object({ name: z.string().regex(/^[a-z0-9-]+$/) }).strict(),
      positionals: ['name'],
      mutates: true,
      access: 'admin',
      pinned: NO_PINS,
      plan: (ctx) => ({
        summary: md`Wipe ${ctx.args.name}`,
        sections: [],
        warnings: [],
        typeToConfirm: { text: ctx.args.name, why: md`Everything on ${ctx.args.name} is lost.` },
      }),
      steps: [
        {
          id: 'wipe',
          title: 'Wipe',
          output: z.null(),
          run: async (ctx) => {
            await redis.rpush(traceKey, `${ctx.jobId}:wipe:done`);
            return null;
          },
        },
      ],
      result: (ctx) => ({ summary: md`wiped ${ctx.args.name}`, sections: [] }),
    });
  return definePlugin({
    name: 'guard',
    deps: () => ({}),
    commands: [guarded('guard wipe'), guarded('guard both')],
  });
}
