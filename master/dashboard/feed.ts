// The one place the dashboard picks its task feed: the stand-in until client/task-feed.ts
// (same contract, feed-contract.md) is on main, then that.
export { TaskFeed, type TaskEvent, type TaskEventKind, type TaskFeedOptions } from './feed-standin.js';
