// `dbops daemon`: validates everything first (all problems at once, exit 2), then runs
// schedules, the shipper and the HTTP endpoints until SIGTERM/SIGINT; exits 0 after a
// clean wind-down. A second signal exits at once (130).
import type { Command } from 'commander';
import { CommandContext, type GlobalOptions } from '../../context.js';
import { ConfigError } from '../../../errors.js';
import type { Config } from '../../../config/schema.js';
import { daemonConfigProblems, storageUrlGiven } from '../../../daemon/daemon-config.js';
import { runDaemon } from '../../../daemon/run-daemon.js';
import { monitorConnection, sourceConnection } from '../../../config/connections.js';

export function registerDaemon(program: Command, globals: () => GlobalOptions): void {
  program
    .command('daemon')
    .description('run scheduled backups, restore tests and pruning, ship binlogs continuously, serve /healthz and /metrics')
    .addHelpText(
      'after',
      '\nConfig: schedule.* (cron, 6 fields = with seconds), daemon.listen (default 127.0.0.1:9187), alerts.webhookUrl / slackWebhookUrl.\n\nExample:\n  dbops daemon --config /etc/dbops/dbops.yaml\n  curl -s 127.0.0.1:9187/healthz',
    )
    .action(async () => {
      const g = globals();
      const problems: string[] = [];
      let config: Config | undefined;
      let ctx: CommandContext | undefined;
      try {
        ctx = await CommandContext.create(g);
        config = ctx.config;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(...err.problems);
      }
      if (config ? !config.storage.url : !storageUrlGiven(g.storage, g.config)) problems.push('missing storage.url: set DBOPS_STORAGE_URL, pass --storage or add storage.url to dbops.yaml');
      if (config) problems.push(...daemonConfigProblems(config));
      if (problems.length || !ctx || !config) throw new ConfigError(problems);

      const repo = await ctx.writableRepository();
      const shutdown = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (++signals > 1) process.exit(130);
        shutdown.abort(sig);
      };
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      try {
        await runDaemon({
          config,
          repo,
          storageUrl: config.storage.url!,
          source: sourceConnection(config),
          monitor: monitorConnection(config),
          recipients: repo.recipients,
          shutdown: shutdown.signal,
        });
      } finally {
        process.removeListener('SIGINT', onSignal).removeListener('SIGTERM', onSignal);
      }
    });
}
