// A member that read the layout just before `drover admin destroy` removed it then meets
// NO_NODE on the election or workers directory. What that means is openLayout's answer, said in
// one line: the root being destroyed, or no cluster there at all; not a retry loop, nor a raw
// NO_NODE. Null: the layout is there (the directory went some other way: retry as before).
// Requests: the layout's getData, then the tombstone's exists (or the root's getACL).
import type { ZkSession } from '../zk/session.js';
import { LayoutError, openLayout } from './layout.js';

export async function layoutGone(session: ZkSession, root: string): Promise<LayoutError | null> {
  try {
    return (await openLayout(session, root)) ? null : new LayoutError(`no drover cluster under ${root} (its layout is gone)`);
  } catch (err) {
    if (err instanceof LayoutError) return err;
    throw err;
  }
}
