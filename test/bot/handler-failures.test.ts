/**
 * No silent failure after the ack: a handler that throws something nobody planned for still answers the
 * user who acted (ephemeral, through response_url) with what went wrong and what to do.
 */

import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, definePlugin, NO_PINS } from '../../src/core/plugin.js';
import { md } from '../../src/core/text.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';

// A command whose argument check itself breaks (a bug in a plugin): it throws while the bot parses.
const broken = defineCommand({
  id: 'broken parse',
  summary: 'A command whose schema throws (test)',
  examples: [],
  args: z
    .object({ x: z.string().optional() })
    .strict()
    .superRefine(() => {
      throw new Error('schema exploded');
    }),
  positionals: ['x'],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({ summary: md`never`, sections: [], warnings: [] }),
  steps: [
    {
      id: 'never',
      title: 'Never',
      output: z.null(),
      run: async () => null,
    },
  ],
  result: () => ({ summary: md`never`, sections: [] }),
});

let s: Stack;
beforeAll(async () => {
  s = await startStack({
    plugins: [...builtinPlugins, definePlugin({ name: 'broken', deps: () => ({}), commands: [broken] })],
  });
});
afterAll(async () => {
  await s?.stop();
});

it('a handler that throws is acked and the user is told what failed, with the code', async () => {
  const res = await s.send('broken parse y');
  expect(res.status).toBe(200);
  const told = await s.double.waitFor(() =>
    s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('Could not handle')),
  );
  expect(told.text).toContain('Could not handle `/flexvdi broken parse y`');
  expect(told.text).toContain('schema exploded');
  expect(told.text).toContain('`internal.error`');
  expect(told.text).toContain('/flexvdi jobs');
  expect(await s.runtimes[0]!.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0 });
});
