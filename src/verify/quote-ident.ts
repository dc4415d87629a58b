// Identifier quoting for SQL we build from names read out of the server:
// table, view and routine names may contain backticks, spaces, quotes and
// unicode, and a wrong quote would silently address another object.

/** Quote one MySQL/MariaDB identifier with backticks, doubling embedded backticks. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new TypeError('identifier contains a NUL byte');
  return '`' + name.replaceAll('`', '``') + '`';
}

/** Quote `db`.`name`. */
export function quoteQualified(db: string, name: string): string {
  return `${quoteIdent(db)}.${quoteIdent(name)}`;
}
