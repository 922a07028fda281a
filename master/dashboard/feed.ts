// The one place the dashboard picks its task feed (client/task-feed.ts, of feed-contract.md):
// every task, on the feed's tree watches, opened by live.ts only while a page is connected.
export { TaskFeed, type TaskEvent, type TaskEventKind, type TaskFeedOptions } from '../../client/task-feed.js';
