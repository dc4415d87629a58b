// Public face of the migration library: what the CLI (`dbops migrate …`), the seed and partition
// maintenance call.
export { create, type CreatedMigration } from './create.js';
export { migrationLockName, withSchemaLock } from './lock.js';
export { defaultMigrationsDir, loadMigrations, migrationChecksum, type MigrationFile } from './migration-files.js';
export { MIGRATIONS_TABLE, migrationsTableExists, readMigrationRows, type MigrationRow } from './migrations-table.js';
export {
  addDays,
  DATE_PARTITIONED_TABLES,
  datePartitionName,
  ensureDatePartitions,
  listDatePartitions,
  partitionDaysToAdd,
  type DatePartition,
} from './partitions.js';
export { describeDrift, schemaDrift, type DriftItem } from './schema-drift.js';
export {
  baseline,
  down,
  notInitialisedError,
  planUp,
  resolve,
  status,
  up,
  verify,
  verifyFiles,
  type AppliedStep,
  type PlannedMigration,
  type DownOptions,
  type MigrateOptions,
  type MigrationState,
  type MigrationStatus,
  type UpOptions,
} from './runner.js';
export { splitSqlStatements, type SqlStatement } from './split-sql.js';
