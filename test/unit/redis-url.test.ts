import { describe, expect, it } from 'vitest';
import { redisOptionsFromUrl } from '../../src/jobs/redis.js';

describe('REDIS_URL forms', () => {
  it('redis:// with auth and db', () => {
    expect(redisOptionsFromUrl('redis://u:p%40ss@10.0.0.5:6380/2')).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      db: 2,
      username: 'u',
      password: 'p@ss',
    });
    expect(redisOptionsFromUrl('redis://localhost')).toMatchObject({ host: 'localhost', port: 6379, db: 0 });
  });
  it('rediss:// turns TLS on with the right server name', () => {
    expect(redisOptionsFromUrl('rediss://cache.example.com:6380')).toMatchObject({
      host: 'cache.example.com',
      tls: { servername: 'cache.example.com' },
    });
  });
  it('redis+sentinel:// lists the sentinels and the master name', () => {
    expect(redisOptionsFromUrl('redis+sentinel://s1:26379,s2:26380/mymaster?db=1')).toMatchObject({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'mymaster',
      db: 1,
    });
  });
});
