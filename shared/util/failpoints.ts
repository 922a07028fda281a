// Failpoints, after etcd's gofail: named steps where a test or the chaos runner can make
// this process die on the spot, to prove recovery from a crash at exactly that step.
// Set by the environment: DROVER_FAILPOINTS="leader.before-assign=kill@3,worker.after-commit=kill@1"
// kills the process (SIGKILL, no cleanup) the 3rd time the leader is about to write an
// assignment batch, or the first time a worker has committed an outcome. Unset (as in
// production), a failpoint is one Map lookup.

export type FailpointName =
  | 'leader.before-assign' // queue and records read, assignment multi not yet sent
  | 'leader.after-assign' // assignment multi committed, nothing else done
  | 'worker.before-commit' // handler returned, outcome not yet written
  | 'worker.after-commit'; // outcome committed, nothing else done

interface Armed {
  at: number;
  hits: number;
}

function parse(spec: string | undefined): Map<string, Armed> {
  const out = new Map<string, Armed>();
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z.-]+)=kill@(\d+)$/.exec(part);
    if (!m) throw new Error(`DROVER_FAILPOINTS: cannot read "${part}"; use name=kill@N`);
    out.set(m[1]!, { at: Number(m[2]), hits: 0 });
  }
  return out;
}

const armed = parse(process.env.DROVER_FAILPOINTS);

export function failpoint(name: FailpointName): void {
  if (armed.size === 0) return;
  const fp = armed.get(name);
  if (!fp) return;
  fp.hits += 1;
  if (fp.hits !== fp.at) return;
  process.stderr.write(`drover: failpoint ${name} hit ${fp.hits} time(s): SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
  // The signal is delivered at once; never run another line of this step.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
}
