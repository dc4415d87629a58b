// Typed errors: library code throws these; only the CLI entry maps them to
// a one-line message and an exit code (0 ok, 1 failed, 2 usage/config, 3 verification).

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  verification: 3,
  /** 128 + SIGINT, what shells report for a job stopped by a signal. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: `message` is one line that says what went wrong and what to do. */
export class DbopsError extends Error {
  readonly exitCode: ExitCode = ExitCode.failed;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, bad config, unknown ids: the user must change the call (exit 2). */
export class UsageError extends DbopsError {
  override readonly exitCode = ExitCode.usage;
}

/** Config validation; carries every problem so they are reported at once (exit 2). */
export class ConfigError extends UsageError {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Data or signature did not verify (exit 3). `object` names the key that failed. */
export class VerificationError extends DbopsError {
  override readonly exitCode = ExitCode.verification;
  constructor(message: string, readonly object?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An operation failed for a reason outside the user's input (exit 1). */
export class OperationError extends DbopsError {}

/** An external program failed; stderr tail is kept (already redacted) for the message. */
export class ToolError extends OperationError {
  constructor(
    readonly tool: string,
    message: string,
    readonly stderrTail = '',
    options?: { cause?: unknown },
  ) {
    super(stderrTail ? `${tool}: ${message}: ${stderrTail}` : `${tool}: ${message}`, options);
  }
}

/** A MySQL/MariaDB tool refused the server's TLS (certificate, host name): a setting to fix (exit 2). */
export class ToolTlsError extends ToolError {
  override readonly exitCode = ExitCode.usage;
}

/** Storage failures. `permanent` ones (access denied, no space) must never be retried. */
export class StorageError extends OperationError {
  constructor(
    message: string,
    readonly key: string | undefined,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Storage object is absent; callers often branch on this. */
export class NotFoundError extends StorageError {
  constructor(key: string, options?: { cause?: unknown }) {
    super(`object not found: ${key}`, key, true, options);
  }
}

/**
 * S3 Object Lock refused a delete: the object version is under retention (or legal hold)
 * until `retainUntil`. Not a failure of the caller: the object stays, intact, and can be
 * deleted once the date passes. `confirmed` is false when the store said AccessDenied and
 * no retention was readable (then it may also be a missing s3:DeleteObjectVersion grant).
 */
export class ObjectLockedError extends StorageError {
  constructor(
    message: string,
    key: string,
    readonly retainUntil: Date | undefined,
    readonly legalHold: boolean,
    readonly confirmed: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, key, true, options);
  }
}

/** The operation was interrupted by a signal; nothing it produced counts. */
export class InterruptedError extends OperationError {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}; nothing from this run was committed`);
  }
}

/** A restore test stopped by SIGINT/SIGTERM: its signed verdict is `interrupted` (exit 130). */
export class TestInterruptedError extends DbopsError {
  override readonly exitCode = ExitCode.interrupted;
}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}
