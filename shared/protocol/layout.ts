// Creates (once) and reads the znode layout of a drover root. Every process calls it on
// start; the shard count is fixed when the layout is first written and read back after.
import type { ZkSession } from '../zk/session.js';
import { NodeExistsError, NoNodeError } from '../zk/errors.js';
import { DEFAULT_SHARDS, LAYOUT_FORMAT, Paths } from './paths.js';

export interface LayoutInfo {
  format: number;
  shards: number;
  createdAt: number;
}

export class LayoutError extends Error {
  override name = 'LayoutError';
}

async function readLayout(session: ZkSession, paths: Paths): Promise<LayoutInfo | null> {
  try {
    const { data } = await session.retrying(() => session.getData(paths.layout));
    const info = JSON.parse(data.toString('utf8')) as LayoutInfo;
    if (info.format !== LAYOUT_FORMAT) {
      throw new LayoutError(`${paths.layout} has layout format ${info.format}; this drover reads format ${LAYOUT_FORMAT}`);
    }
    return info;
  } catch (err) {
    if (err instanceof NoNodeError) return null;
    throw err;
  }
}

/** Reads the layout of `root`, creating it if absent. Idempotent and safe to race. */
export async function ensureLayout(session: ZkSession, root: string, shards = DEFAULT_SHARDS): Promise<Paths> {
  const probe = new Paths(root, shards);
  const existing = await readLayout(session, probe);
  if (existing) return new Paths(root, existing.shards);
  if (probe.root) await session.mkdirp(probe.root);
  // Pipelined creates: the directories are independent once the top level exists.
  const dirs = probe.layoutDirs().filter((d) => d !== probe.root);
  const top = dirs.filter((d) => d.split('/').length === probe.root.split('/').length + 1);
  const rest = dirs.filter((d) => !top.includes(d));
  for (const group of [top, rest]) {
    await Promise.all(
      group.map((d) =>
        session.retrying(() =>
          session.create(d).catch((err) => {
            if (!(err instanceof NodeExistsError)) throw err;
            return d;
          }),
        ),
      ),
    );
  }
  const info: LayoutInfo = { format: LAYOUT_FORMAT, shards, createdAt: Date.now() };
  try {
    await session.create(probe.layout, Buffer.from(JSON.stringify(info)));
  } catch (err) {
    if (!(err instanceof NodeExistsError)) throw err;
  }
  const now = await readLayout(session, probe);
  if (!now) throw new LayoutError(`layout node ${probe.layout} vanished`);
  return new Paths(root, now.shards);
}

/** Reads the layout without creating it (for read-only commands). Null when absent. */
export async function openLayout(session: ZkSession, root: string): Promise<Paths | null> {
  const info = await readLayout(session, new Paths(root));
  return info ? new Paths(root, info.shards) : null;
}
