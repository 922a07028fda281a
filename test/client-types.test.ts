// The library types the work: a handler map's types flow to submit, wait, waitMany and
// submitAndWait. Checked by tsc (`npm test` runs tsc -p tsconfig.test.json first): each
// `@ts-expect-error` line must be an error, or tsc fails; expectTypeOf pins the types. The
// run-time half: the typed calls work against a real cluster, and the untyped API still compiles.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { DroverClient, TaskValidationError, type SubmitInput, type TaskContext, type TaskId, type TaskRecord } from '../index.js';
import { startCluster, type TestCluster } from './harness/cluster.js';

const handlers = {
  async echo(payload: { text: string }, _ctx: TaskContext) {
    return { echoed: payload.text };
  },
  async sleep(payload: { ms: number }) {
    return { sleptMs: payload.ms };
  },
  count: (payload: number[]) => payload.length,
};
type Handlers = typeof handlers;

/** Never run: what tsc must accept and refuse. */
async function typeChecks(client: DroverClient<Handlers>, plain: DroverClient): Promise<void> {
  const { id } = await client.submit({ type: 'echo', payload: { text: 'hi' } });
  expectTypeOf(id).toEqualTypeOf<TaskId<'echo'>>();
  const rec = await client.wait(id);
  expectTypeOf(rec.type).toEqualTypeOf<'echo'>();
  expectTypeOf(rec.payload).toEqualTypeOf<{ text: string }>();
  expectTypeOf(rec.result).toEqualTypeOf<{ echoed: string } | undefined>();

  // @ts-expect-error: the payload of echo is {text: string}
  await client.submit({ type: 'echo', payload: { ms: 1 } });
  // @ts-expect-error: no handler of this type
  await client.submit({ type: 'resize', payload: {} });
  // @ts-expect-error: the payload is required and typed
  await client.submit({ type: 'count' });

  // @ts-expect-error: a typo'd field is refused, not dropped (typed client)
  await client.submit({ type: 'echo', payload: { text: 'hi' }, priorty: 5 });
  // @ts-expect-error: timeoutMs, not timeout
  await client.submitAndWait({ type: 'sleep', payload: { ms: 1 }, timeout: 5 });
  // @ts-expect-error: a typo'd field in one element of many
  await client.submitMany([{ type: 'echo', payload: { text: 'a' } }, { type: 'count', payload: [], maxAtempts: 2 }]);

  const done = await client.submitAndWait({ type: 'count', payload: [1, 2, 3] });
  expectTypeOf(done.result).toEqualTypeOf<number | undefined>();

  const a = await client.submit({ type: 'sleep', payload: { ms: 5 } });
  const [r1, r2] = await client.waitMany([id, a.id]);
  expectTypeOf(r1.result).toEqualTypeOf<{ echoed: string } | undefined>();
  expectTypeOf(r2.result).toEqualTypeOf<{ sleptMs: number } | undefined>();

  // A plain string id: a record of any of the map's types, told apart by `type`.
  const any = await client.wait('some-id');
  if (any.type === 'sleep') expectTypeOf(any.payload).toEqualTypeOf<{ ms: number }>();
  const many = await client.submitMany([{ type: 'echo', payload: { text: 'a' } }, { type: 'count', payload: [] }]);
  // @ts-expect-error: one element's payload is wrong
  await client.submitMany([{ type: 'echo', payload: { text: 'a' } }, { type: 'count', payload: 'x' }]);
  expectTypeOf(many[0]!.id).toEqualTypeOf<TaskId<'echo' | 'sleep' | 'count'>>();

  // Untyped: as before, any type, payload unknown, TaskRecord back.
  const u = await plain.submit({ type: 'anything', payload: { whatever: 1 } });
  // @ts-expect-error: a typo'd field is refused (untyped client)
  await plain.submit({ type: 'anything', payload: 1, priorty: 5 });
  // @ts-expect-error: timeoutMs, not timeout
  await plain.submitAndWait({ type: 'anything', payload: 1, timeout: 5 });
  // @ts-expect-error: a typo'd field in one element of many
  await plain.submitMany([{ type: 'a', payload: 1 }, { type: 'b', payload: 2, labls: {} }]);
  expectTypeOf(await plain.wait(u.id)).toEqualTypeOf<TaskRecord>();
  expectTypeOf(await plain.waitMany([u.id])).toEqualTypeOf<[TaskRecord]>();
  const ids: string[] = [u.id];
  expectTypeOf(await plain.waitMany(ids)).toEqualTypeOf<TaskRecord[]>();
  expectTypeOf(plain.typed<Handlers>()).toEqualTypeOf<DroverClient<Handlers>>();
}
void typeChecks;

let cluster: TestCluster | undefined;
beforeAll(async () => {
  cluster = await startCluster({ workers: [{ id: 'typed-w1', handlers }] });
});
afterAll(async () => {
  await cluster?.stop();
});

describe('a typed client', () => {
  it('submits, waits and waits for many with the types of the handler map', async () => {
    const client = cluster!.client.typed<Handlers>();
    const { id } = await client.submit({ type: 'echo', payload: { text: 'hello' } });
    const rec = await client.wait(id, { timeoutMs: 20_000 });
    expect(rec.result).toEqual({ echoed: 'hello' });
    const n = await client.submitAndWait({ type: 'count', payload: [1, 2, 3] }, { timeoutMs: 20_000 });
    expect(n.result).toBe(3);
    const a = await client.submit({ type: 'sleep', payload: { ms: 10 } });
    const b = await client.submit({ type: 'echo', payload: { text: 'b' } });
    const seen: number[] = [];
    const [ra, rb] = await client.waitMany([a.id, b.id], { timeoutMs: 20_000, onEach: (_r, i) => seen.push(i) });
    expect(ra.result).toEqual({ sleptMs: 10 });
    expect(rb.result).toEqual({ echoed: 'b' });
    expect(seen.sort()).toEqual([0, 1]);
  });

  it('refuses at run time a field no task has (JavaScript, a cast), naming it; nothing is submitted', async () => {
    const client = cluster!.client;
    const typo = { type: 'echo', id: 'typo-1', payload: { text: 'x' }, priorty: 5 } as SubmitInput;
    const err = await client.submit(typo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskValidationError);
    expect((err as TaskValidationError).field).toBe('priorty');
    expect((err as Error).message).toMatch(/^unknown field "priorty" \(a task has type, payload, id, priority,/);
    const many = await client.submitMany([{ type: 'echo', id: 'typo-2', payload: { text: 'x' } }, { type: 'echo', payload: 1, backoff: { initialMs: 1, maxMS: 2 } } as SubmitInput]).catch((e: unknown) => e);
    expect((many as TaskValidationError).field).toBe('backoff.maxMS');
    expect((many as Error).message).toMatch(/^input 1: unknown field "backoff.maxMS"/);
    expect(await client.get('typo-1')).toBeNull();
    expect(await client.get('typo-2')).toBeNull();
  });
});
