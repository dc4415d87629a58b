// Public face of partition maintenance: `dbops partitions …` and the daemon's maintenance job call this.
export { archivePartition, countPartitionRows, verifyArchive, type ArchiveKeys, type ArchiveTarget, type PartitionRange } from './archive-partition.js';
export { ARCHIVE_FORMAT, parseArchiveManifest, type ArchiveManifest } from './archive-manifest.js';
export { readArchiveManifest, restoreArchive, type RestoreArchiveOptions, type RestoreArchiveResult } from './restore-archive.js';
export { parseRetentionDays } from './retention.js';
export {
  applyMaintenance,
  deletionsDue,
  maintenanceSettings,
  planMaintenance,
  type MaintenanceOutcome,
  type MaintenancePlan,
  type MaintenanceResult,
  type MaintenanceSettings,
  type TablePlan,
  type TablePolicy,
} from './maintain.js';
export { maintainDatabase, summarizeMaintenance, type MaintainOptions, type MaintainResult } from './run-maintenance.js';
export { rotateVisitorSalts, SALTS_TABLE } from './visitor-salts.js';
