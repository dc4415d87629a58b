// Container HEALTHCHECK: asks the daemon's /livez from inside the container — liveness,
// not /healthz: an orchestrator restarts an unhealthy container, and a stale backup or a
// shipping lag is a page for a person, not a reason to kill a working daemon. The
// address comes from DBOPS_DAEMON_LISTEN (what the daemon binds); a wildcard bind is
// reached on loopback. Plain Node, no curl in the image. Exit 0 live, 1 not.
const listen = process.env.DBOPS_DAEMON_LISTEN || '127.0.0.1:9187';
const at = listen.lastIndexOf(':');
let host = listen.slice(0, at);
const port = listen.slice(at + 1);
if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
if (host === '[::]') host = '[::1]';

try {
  const res = await fetch(`http://${host}:${port}/livez`, { signal: AbortSignal.timeout(4000) });
  const body = (await res.text()).slice(0, 300).replace(/\s+/g, ' ');
  console.log(`${res.status} ${body}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.log(`/livez on ${host}:${port} unreachable: ${err.cause?.code ?? err.message}`);
  process.exit(1);
}
