// The election's candidate nodes, read from outside as well as by the recipe: their names
// (c_<session id>_<sequence>, the recipe's own), their data, and who leads a directory.
import { NoNodeError } from './errors.js';
import type { ZkSession } from './session.js';

export interface CandidateInfo {
  id: string;
  host: string;
  pid: number;
  since: number;
}

/** Candidate node names are the recipe's own: c_<session id>_<sequence>. */
export function candidatePrefix(dir: string, sessionId: string): string {
  return `${dir}/c_${sessionId}_`;
}
/** The sequence number of a candidate node name (NaN if it is not one). */
export function candidateSeq(name: string): number {
  const m = /_(\d{10})$/.exec(name);
  return m ? Number(m[1]) : Number.NaN;
}
/** The session that made a candidate node (undefined if it is not one). */
export function candidateSession(name: string): string | undefined {
  return /^c_([0-9a-f]+)_\d{10}$/.exec(name)?.[1];
}
/** Candidate names in line order (leader first). */
export function inLine(children: string[]): string[] {
  return children.filter((c) => !Number.isNaN(candidateSeq(c))).sort((a, b) => candidateSeq(a) - candidateSeq(b));
}

/** Reads who leads the election in `dir` without taking part. */
export async function readLeader(session: ZkSession, dir: string): Promise<(CandidateInfo & { epoch: number; path: string }) | null> {
  const { children } = await session.retrying(() => session.getChildren(dir));
  const sorted = inLine(children);
  for (const name of sorted) {
    const path = `${dir}/${name}`;
    try {
      const { data } = await session.retrying(() => session.getData(path));
      return { ...(JSON.parse(data.toString('utf8')) as CandidateInfo), epoch: candidateSeq(name), path };
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }
  return null;
}

/** Lists every candidate in order (leader first). */
export async function listCandidates(session: ZkSession, dir: string): Promise<Array<CandidateInfo & { epoch: number }>> {
  const { children } = await session.retrying(() => session.getChildren(dir));
  const sorted = inLine(children);
  const out = await Promise.all(
    sorted.map(async (name) => {
      try {
        const { data } = await session.retrying(() => session.getData(`${dir}/${name}`));
        return { ...(JSON.parse(data.toString('utf8')) as CandidateInfo), epoch: candidateSeq(name) };
      } catch (err) {
        if (err instanceof NoNodeError) return null;
        throw err;
      }
    }),
  );
  return out.filter((x): x is CandidateInfo & { epoch: number } => x !== null);
}
