// Public face of the seed generator: `dbops seed`, the demo, tests and benchmarks call this.
export { rebuildAggregates } from './aggregates.js';
export { BYTES_PER_SESSION, DEFAULT_SEED_END_DATE, planSessions, seed, type SeedOptions, type SeedResult } from './seed.js';
export { DEV_EMAIL, DEV_PASSWORD, DEV_SETTINGS, DEV_USERNAME } from './dev-account.js';
