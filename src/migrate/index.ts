// Public face of the migration library: what the CLI (`dbops migrate …`), the seed and partition
// maintenance call.
export { create, type CreatedMigration } from './create.js';
export { migrationLockName } from './lock.js';
export { defaultMigrationsDir, loadMigrations, migrationChecksum, type MigrationFile } from './migration-files.js';
export { MIGRATIONS_TABLE, readMigrationRows, type MigrationRow } from './migrations-table.js';
export {
  addDays,
  DATE_PARTITIONED_TABLES,
  datePartitionName,
  ensureDatePartitions,
  listDatePartitions,
  type DatePartition,
} from './partitions.js';
export {
  down,
  resolve,
  status,
  up,
  verify,
  type AppliedStep,
  type DownOptions,
  type MigrateOptions,
  type MigrationState,
  type MigrationStatus,
  type UpOptions,
} from './runner.js';
export { splitSqlStatements, type SqlStatement } from './split-sql.js';
