// Imported first by scripts that print their own progress: library logs only from warn up.
process.env.DBOPS_LOG_LEVEL ??= 'warn';
