// Settings on the source that make shipped binlogs less useful or the shipper fragile,
// reported once at start as warnings (shipping still works).
import type { ServerInfo } from '../mysql/server-info.js';

/** Binlogs must outlive a shipper outage: max lag plus this much. */
export const EXPIRY_MARGIN_SECONDS = 3600;

export function sourceWarnings(info: ServerInfo, maxLagSeconds: number): string[] {
  const out: string[] = [];
  if (info.binlogFormat && info.binlogFormat !== 'ROW') {
    out.push(`binlog_format is ${info.binlogFormat}, not ROW: statement events may replay differently and "binlog find" cannot show row changes; set binlog_format=ROW on the source`);
  }
  if (info.binlogRowImage && info.binlogRowImage !== 'FULL') {
    out.push(`binlog_row_image is ${info.binlogRowImage}, not FULL: row events lack columns that point-in-time tools need; set binlog_row_image=FULL on the source`);
  }
  const needed = maxLagSeconds + EXPIRY_MARGIN_SECONDS;
  if (info.binlogExpirySeconds > 0 && info.binlogExpirySeconds < needed) {
    out.push(`the source expires binlogs after ${info.binlogExpirySeconds} s, less than max lag + ${EXPIRY_MARGIN_SECONDS} s margin (${needed} s): a short shipper outage would lose binlogs (a gap); raise binlog_expire_logs_seconds`);
  }
  return out;
}
