/**
 * The benchmarks' way to run one shipped command without Slack or the queue: through the registry, plan then
 * steps then result, as the worker does (checkpoints in memory), timed per step.
 */
import { setMaxListeners } from 'node:events';
import type { PlanEnv, PluginServices, StepEnv } from '../src/core/plugin.js';
import { createRegistry } from '../src/core/registry.js';
import { builtinPlugins } from '../src/plugins/index.js';

/** The shipped plugins, checked as at boot: commands are run through the registry, as the worker does. */
export const registry = createRegistry(builtinPlugins);

/** Plan + steps + result of one command, as the worker runs them (no Slack, no queue), timed. */
export async function runCommand(id: string, rawArgs: unknown, services: PluginServices) {
  const command = registry.runnable(services).get(id);
  if (!command) throw new Error(`no command ${id}`);
  const bound = command.bind(rawArgs);
  if (!bound.ok) throw bound.error;
  const signal = new AbortController().signal;
  setMaxListeners(0, signal); // as many listeners as SSH calls in flight
  const base: PlanEnv = { requester: 'UBENCH', isAdmin: true, services, signal };
  const t0 = performance.now();
  const plan = await bound.value.plan(base);
  if (plan.refused || plan.noop) throw new Error(`plan refused: ${plan.refused ?? plan.summary}`);
  const planMs = performance.now() - t0;
  const run = bound.value.withPinned(plan.pinned ?? null);
  if (!run.ok) throw run.error;
  const saved = new Map<string, unknown>();
  const results = new Map<string, unknown>();
  const env: StepEnv = {
    ...base,
    finding: () => {},
    jobId: 'bench',
    attempt: 1,
    results,
    progress: { step: () => {}, host: () => {} },
    checkpoint: {
      get: async (k, schema) => (saved.has(k) ? schema.parse(saved.get(k)) : undefined),
      set: async (k, _schema, v) => void saved.set(k, v),
    },
  };
  const stepMs: Record<string, number> = {};
  for (const step of run.value.steps) {
    const s0 = performance.now();
    results.set(step.id, await step.run(env));
    stepMs[step.id] = Math.round(performance.now() - s0);
  }
  const result = await run.value.result(env);
  return {
    planMs: Math.round(planMs),
    stepMs,
    totalMs: Math.round(performance.now() - t0),
    summary: result.summary.mrkdwn,
  };
}
