/** An incident record for tests: a Host's open incident with the schema's defaults, changed by `over`. */
import { type Incident, incidentSchema } from '../../src/monitor/incidents.js';

export const incidentFixture = (over: Partial<Incident> = {}): Incident =>
  incidentSchema.parse({
    id: 'host2-abc',
    host: 'host2',
    state: 'open',
    phase: 'lost',
    openedAt: 1000,
    lostAt: 1000,
    resolvedAt: null,
    failing: ['heartbeat'],
    flaps: 0,
    channel: 'C0ALERTS1',
    threadTs: null,
    version: 0,
    ...over,
  });
