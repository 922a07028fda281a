// Recording handlers for the chaos runner and the crash/partition tests. Every execution
// appends a `start` line and, in a finally, an `end` line to the file named by
// DROVER_EXEC_LOG (O_APPEND writes of one short line do not interleave, and lines of one
// process keep their order), so a checker can compare what ran with what ZooKeeper committed
// and see how many handlers each process ran at once. Plain JavaScript: workers load it by
// path, it is not compiled.
import { appendFileSync } from 'node:fs';

const LOG = process.env.DROVER_EXEC_LOG;
const record = (event, ctx, extra = {}) => {
  if (!LOG) return;
  appendFileSync(LOG, JSON.stringify({ event, taskId: ctx.taskId, attempt: ctx.attempt, pid: process.pid, at: Date.now(), ...extra }) + '\n');
};

const sleep = (ms, signal, ignoreAbort) =>
  new Promise((resolve, reject) => {
    if (!ignoreAbort && signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    if (!ignoreAbort) signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

export default {
  /**
   * { ms, ignoreAbort?, value? } → { taskId, attempt, pid, value, double }: the result names
   * who computed it, and `double` (value × 2) is what a checker recomputes from the payload.
   * The `end` line says how the run ended: ok, aborted (with the abort kind) or error.
   */
  async work(payload, ctx) {
    record('start', ctx);
    let outcome = 'error';
    let result;
    try {
      await sleep(payload?.ms ?? 10, ctx.signal, payload?.ignoreAbort === true);
      const value = payload?.value ?? null;
      result = { taskId: ctx.taskId, attempt: ctx.attempt, pid: process.pid, value, double: typeof value === 'number' ? value * 2 : null };
      outcome = 'ok';
      return result;
    } catch (err) {
      if (ctx.signal.aborted) outcome = 'aborted';
      throw err;
    } finally {
      const extra = { outcome };
      if (result) extra.result = result;
      if (ctx.signal.aborted) extra.abort = ctx.signal.reason?.kind ?? 'aborted';
      record('end', ctx, extra);
    }
  },
};
