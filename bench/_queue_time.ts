/** Mean time in queue (arrival to last delivery) read from each MTA's own log. */

function mean(xs: number[]): number | undefined {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
}

/**
 * From the relay's JSON log: for each message id, the time from its arrival line (`ID <=`) to
 * its last delivery line (`ID =>`), in milliseconds; returns the mean and how many it saw.
 */
export function relayQueueTime(jsonLog: string): { meanMs?: number; n: number } {
  const arrived = new Map<string, number>();
  const delivered = new Map<string, number>();
  for (const line of jsonLog.split("\n")) {
    if (!line.startsWith("{")) continue;
    let rec: { ts?: string; msg?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const m = /^(\S+) (<=|=>) /.exec(rec.msg ?? "");
    if (!m || !rec.ts) continue;
    const t = Date.parse(rec.ts);
    if (m[2] === "<=") arrived.set(m[1], t);
    else delivered.set(m[1], t);
  }
  const times: number[] = [];
  for (const [id, t] of delivered) {
    const a = arrived.get(id);
    if (a !== undefined) times.push(t - a);
  }
  return { meanMs: mean(times), n: times.length };
}

/** From Postfix's log: the mean `delay=` (seconds, arrival to delivery) of `status=sent` lines. */
export function postfixQueueTime(maillog: string): { meanMs?: number; n: number } {
  const times: number[] = [];
  for (const m of maillog.matchAll(/ delay=([\d.]+),.* status=sent /g)) {
    times.push(Number(m[1]) * 1000);
  }
  return { meanMs: mean(times), n: times.length };
}
