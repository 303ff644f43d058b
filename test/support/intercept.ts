/**
 * Fault injection for crash tests, through the plugin contract's erased interfaces only: wraps a plugin so a
 * hook runs around each step (and the result) of its commands. The hook sees the command, the step, the
 * job's raw args and the step's environment, and may die, delay, or run the step with other services.
 */
import type { AnyPlugin, BoundRun, Plugin, StepEnv } from '../../src/core/plugin.js';

export interface StepCall {
  command: string;
  /** A step id, or `result` for the command's result. */
  step: string;
  args: unknown;
  env: Omit<StepEnv, 'progress' | 'checkpoint' | 'finding'>;
  run(env?: Partial<StepEnv>): Promise<unknown>;
}

export type StepHook = (call: StepCall) => Promise<unknown>;

export function intercept(plugin: AnyPlugin, hook: StepHook): Plugin<unknown> {
  const wrapRun = (command: string, args: unknown, run: BoundRun): BoundRun => ({
    steps: run.steps.map((s) => ({
      ...s,
      run: (env: StepEnv) =>
        hook({ command, step: s.id, args, env, run: (over = {}) => s.run({ ...env, ...over }) }),
    })),
    result: (env) => {
      let out: ReturnType<BoundRun['result']> | undefined;
      return hook({
        command,
        step: 'result',
        args,
        env,
        run: (over = {}) => {
          out = run.result({ ...env, ...over });
          return out;
        },
      }).then(() => out ?? run.result(env));
    },
  });
  return {
    ...plugin,
    runnable: (services) =>
      plugin.runnable(services).map((c) => ({
        info: c.info,
        bind: (args) => {
          const b = c.bind(args);
          if (!b.ok) return b;
          return {
            ok: true,
            value: {
              ...b.value,
              withPinned: (pinned) => {
                const r = b.value.withPinned(pinned);
                return r.ok ? { ok: true, value: wrapRun(c.info.id, args, r.value) } : r;
              },
            },
          };
        },
      })),
  };
}
