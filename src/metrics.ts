/**
 * Prometheus metrics, one registry per process (injected, never global): commands received, jobs by state
 * (read from the queue at scrape time, so every replica reports the same truth), step durations.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FlexQueue } from './jobs/queue.js';

export interface Metrics {
  registry: Registry;
  commands: Counter<'command' | 'outcome'>;
  steps: Histogram<'command' | 'step' | 'outcome'>;
  jobsFinished: Counter<'command' | 'outcome'>;
  /** Adds the jobs-by-state gauge that reads this queue on every scrape. */
  watchQueue(queue: FlexQueue): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const commands = new Counter({
    name: 'flexvdi_commands_total',
    help: 'Slash commands received, by command and outcome (enqueued, refused, invalid, answered)',
    labelNames: ['command', 'outcome'] as const,
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'flexvdi_step_duration_seconds',
    help: 'Duration of job steps',
    labelNames: ['command', 'step', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const jobsFinished = new Counter({
    name: 'flexvdi_jobs_finished_total',
    help: 'Jobs finished by this process, by command and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [registry],
  });
  let watched = false;
  return {
    registry,
    commands,
    steps,
    jobsFinished,
    watchQueue(queue) {
      if (watched) return;
      watched = true;
      new Gauge({
        name: 'flexvdi_jobs',
        help: 'Jobs in the queue by state',
        labelNames: ['state'] as const,
        registers: [registry],
        async collect() {
          const counts = await queue.getJobCounts(
            'waiting',
            'active',
            'delayed',
            'completed',
            'failed',
            'paused',
            'prioritized',
          );
          for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
        },
      });
    },
  };
}
