/**
 * Starts one private redis-server for the whole run (never the machine's shared one, never leftovers) and
 * hands its URL to every test file through `inject('redisUrl')`. Each test still uses its own key prefix.
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startPrivateRedis } from '../../src/local-redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const redis = await startPrivateRedis({ label: 'vitest' });
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
  };
}
