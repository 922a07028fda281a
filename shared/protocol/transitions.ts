// The transitions layer: every change to a task is one function here that builds its one
// ZooKeeper multi (ops from task-ops.ts, the fence where the protocol puts one), sends it and
// returns a named verdict (multi.ts):
//
//   committed  applied (with the next record(s) and new versions where callers need them)
//   fenced     the caller's fence refused: the leader is deposed / the worker's assignment is gone
//   moved      another op refused: the record or an index entry changed under us (for a batch,
//              `item` says which)
//   unknown    connection loss, request timeout, session expiry: the caller verifies
//
//   transition                who      fence                multi
//   submit, submitBatch       client   -                    create record, create queue entry (×N)
//   assignBatch               leader   election node        remove queue entry, set record@v, create assignment (×N)
//   start, startBatch         worker   its assignment       check assignment, set record@v (×N)
//   finish                    worker   its assignment       remove assignment, set record@v, queue or done entry
//   finishBatch               worker   each its assignment  the finish ops of many tasks in one multi (group commit; refused → each alone)
//   reclaim                   leader   election node        remove assignment, set record@v, queue or done entry
//   cancel                    anyone   -                    remove queue entry or assignment, set record@v, done entry
//   failMalformedQueued       leader   election node        remove queue entry, set stand-in@v (queued → failed), done entry
//   failMalformedAssigned     leader / worker  election node / its assignment   remove assignment, set stand-in@v (assigned → failed), done entry
//   purgeBatch                leader   election node        remove done entry, remove record (×N)
//   removeStaleAssignment     leader   election node        remove an assignment its record does not back
//   removeStaleQueueEntry     leader   election node        remove a queue entry its record does not back
//   removeMemberDir           leader   election node        remove a gone member's emptied assignment directory
//   restoreAssignDir          worker   its member node      create its assignment directory
//
// The questions every role asks of a record it read (holdsAttempt, heldAt, queuedAt) are in holds.ts.
export { Multi, type BatchVerdict, type Fenced, type LeaderTx, type Moved, type Refusal, type Tx, type Unknown, type Verdict } from './multi.js';
export { cancel, submit, submitBatch, type BatchLimits } from './client-transitions.js';
export {
  assignBatch,
  failMalformedAssigned,
  failMalformedQueued,
  purgeBatch,
  reclaim,
  removeMemberDir,
  removeStaleAssignment,
  removeStaleQueueEntry,
  type AssignItem,
  type Assigned,
  type Finished,
  type HeldAttempt,
} from './leader-transitions.js';
export { finish, restoreAssignDir, start, startBatch } from './worker-transitions.js';
export { finishBatch, prepareFinish, sendFinish, type FinishVerdict, type PreparedFinish } from './finish-batch.js';
export { heldAt, holdsAttempt, queuedAt } from './holds.js';
export type { Part } from './paths.js';
