// One doctor finding: what was checked, the verdict, what was seen, and the fix.
// `fail` blocks backups or shipping (exit 1); `warn` weakens them; `skip` could not be checked.
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export function check(id: string, title: string, status: CheckStatus, detail: string, fix?: string): DoctorCheck {
  return fix ? { id, title, status, detail, fix } : { id, title, status, detail };
}
