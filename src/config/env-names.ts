// Unknown DBOPS_* variables: a typo of a real setting must not be silently ignored (the
// setting would quietly keep its default), but Kubernetes injects service-link variables
// for every Service in the namespace — a Service named `dbops` (or `dbops-…`) gives
// DBOPS_PORT, DBOPS_PORT_9187_TCP_ADDR, DBOPS_SERVICE_HOST… — and those are not ours.

/** Kubernetes service-link names: <SVC>_SERVICE_HOST, <SVC>_SERVICE_PORT[_<NAME>], <SVC>_PORT[_<n>_<PROTO>[_ADDR|_PORT|_PROTO]]. */
const SERVICE_LINK = /^DBOPS(_[A-Z0-9_]+?)?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(ADDR|PORT|PROTO))?)?)$/;

export function isServiceLink(name: string): boolean {
  return SERVICE_LINK.test(name);
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name closest to `name`, when close enough to be a typo of it. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // A third of the part after DBOPS_, at least 2: catches swapped, missing and extra letters
  // and a wrong word ending (_FILES), not unrelated names.
  return best !== undefined && bestDistance <= Math.max(2, Math.floor((name.length - 6) / 3)) ? best : undefined;
}

/** The problem to report for an unknown DBOPS_* variable, or undefined when it is to be ignored. */
export function unknownEnvProblem(name: string, known: ReadonlySet<string>): string | undefined {
  if (isServiceLink(name)) return undefined;
  const near = closestName(name, known);
  return near
    ? `unknown environment variable ${name}: did you mean ${near}?`
    : `unknown environment variable ${name}: not a dbops setting (every setting's variable is listed in the README's Configuration table); unset it`;
}
