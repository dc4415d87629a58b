// Public face of partition maintenance: `dbops partitions …` and the daemon's maintenance job call this.
export { archivePartition, countPartitionRows, verifyArchive, type ArchiveKeys, type ArchiveTarget, type PartitionRange } from './archive-partition.js';
export { ARCHIVE_FORMAT, parseArchiveManifest, type ArchiveManifest } from './archive-manifest.js';
export { applyMaintenance, planMaintenance, type MaintenancePlan, type MaintenanceResult, type TablePlan, type TablePolicy } from './maintain.js';
export { readArchiveManifest, restoreArchive, type RestoreArchiveOptions, type RestoreArchiveResult } from './restore-archive.js';
export { parseRetentionDays } from './retention.js';
