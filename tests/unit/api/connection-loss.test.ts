/**
 * ConnectionLoss (api/src/redis/gateway.ts): every command the gateway sends races it, so it must turn a lost
 * connection into an immediate failure of what is in flight — and keep nothing of what has settled, however long
 * the connection lives.
 */
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type Redis from 'ioredis';
import { ConnectionLoss } from '../../../api/src/redis/gateway';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Stands in for an ioredis client: ConnectionLoss only listens to its 'close' event. */
function fakeClient(): EventEmitter & Redis {
  return new EventEmitter() as EventEmitter & Redis;
}

describe('ConnectionLoss', () => {
  it('rejects every command in flight at once when the connection closes, and races commands after it as usual', async () => {
    const client = fakeClient();
    const loss = new ConnectionLoss(client);
    const never = new Promise<string>(() => undefined);
    const inFlight = [loss.race(never), loss.race(never)];
    client.emit('close');
    for (const p of inFlight) await expect(p).rejects.toThrow('Connection is closed.');
    await expect(loss.race(Promise.resolve('OK'))).resolves.toBe('OK');
    await expect(loss.race(Promise.reject(new Error('NOSCRIPT No matching script')))).rejects.toThrow('NOSCRIPT');
  });

  it('keeps no reply of a settled command while the connection stays open (the heap does not grow with the traffic)', async () => {
    const client = fakeClient();
    const loss = new ConnectionLoss(client);
    const replies: WeakRef<object>[] = [];
    for (let i = 0; i < 200; i += 1) {
      const reply = { body: `${'x'.repeat(10_000)}${i}` };
      replies.push(new WeakRef(reply));
      await loss.race(Promise.resolve(reply));
    }
    await new Promise((resolve) => setTimeout(resolve, 10)); // a new task: WeakRef targets are kept to the end of one
    collectGarbage();
    // (the last reply may still be held by the loop's own frame)
    expect(replies.filter((r) => r.deref() !== undefined).length).toBeLessThanOrEqual(1);
    // (and the connection is still watched)
    const pending = loss.race(new Promise(() => undefined));
    client.emit('close');
    await expect(pending).rejects.toThrow('Connection is closed.');
  });
});
