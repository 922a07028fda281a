// Types that tie a task type to its payload and result, from a handler map's type:
//
//   const handlers = { async resize(p: { url: string }, ctx: TaskContext) { return { w: 256 }; } };
//   const client = await DroverClient.connect<typeof handlers>({ connectString });
//   const { id } = await client.submit({ type: 'resize', payload: { url } });   // payload checked
//   const rec = await client.wait(id);                                         // rec.result: { w: number } | undefined
//
// A submit's id carries its task type (TaskId<'resize'>, a string at run time), so wait() and
// waitMany() know what they return; a plain string id gives a record of any of the map's
// types. Without a map (DroverClient.connect() as before) every type is TaskRecord's own.
import type { SubmitInput, TaskRecord } from '../shared/protocol/task-record.js';

/** A handler map's shape: each task type a function of its payload (and a context). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HandlerTypes<H> = { [K in keyof H]: (payload: any, ctx: any) => unknown };

/** What a client without a handler map knows: any type, any payload, any result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UntypedHandlers = Record<string, (payload: any, ctx: any) => unknown>;

declare const taskTypeBrand: unique symbol;
/** A task id known to name a task of type T (a plain string at run time). */
export type TaskId<T extends string = string> = string & { readonly [taskTypeBrand]?: T };

/** The task types of a handler map. */
export type TaskTypeOf<H> = Extract<keyof H, string>;

/** The payload a handler of type T takes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PayloadOf<H, T extends keyof H> = H[T] extends (payload: infer P, ...rest: any[]) => unknown ? P : never;

/** What a handler of type T resolves to. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ResultOf<H, T extends keyof H> = H[T] extends (...args: any[]) => infer R ? Awaited<R> : never;

/** The map is the untyped one (string keys): everything stays TaskRecord's own types. */
type Untyped<H> = string extends keyof H ? true : false;

/** A submission of a task of type T: `payload` must be what its handler takes. */
export type SubmitFor<H, T extends TaskTypeOf<H> = TaskTypeOf<H>> =
  Untyped<H> extends true ? SubmitInput : T extends TaskTypeOf<H> ? Omit<SubmitInput, 'type' | 'payload'> & { type: T; payload: PayloadOf<H, T> } : never;

/** A record of a task of type T (distributes over a union of types). */
export type TaskRecordOf<H, T extends TaskTypeOf<H> = TaskTypeOf<H>> =
  Untyped<H> extends true ? TaskRecord : T extends TaskTypeOf<H> ? Omit<TaskRecord, 'type' | 'payload' | 'result'> & { type: T; payload: PayloadOf<H, T>; result?: ResultOf<H, T> } : never;

/** What submit() answers: the id carries the task's type. */
export interface TypedSubmitResult<H, T extends TaskTypeOf<H> = TaskTypeOf<H>> {
  id: TaskId<T>;
  /** False when a task with this id already existed (submission is idempotent by id). */
  created: boolean;
  record: TaskRecordOf<H, T>;
}

/** The task type an id carries (any of the map's for a plain string). */
export type TypeOfId<H, I> = I extends TaskId<infer T> ? (string extends T ? TaskTypeOf<H> : Extract<T, TaskTypeOf<H>>) : TaskTypeOf<H>;

/** waitMany's answer: one record per id, each typed by its id. */
export type RecordsOf<H, Ids extends readonly string[]> = { -readonly [K in keyof Ids]: TaskRecordOf<H, TypeOfId<H, Ids[K]>> };
