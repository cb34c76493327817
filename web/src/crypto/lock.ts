// Serializes work on one piece of state (a room's own sender key, a peer's chain), so two
// messages never take the same chain iteration (that would reuse a nonce). Across tabs of
// the same browser profile the Web Locks API does it; without it (node), a promise chain.

const tails = new Map<string, Promise<unknown>>();

export async function withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks) return locks.request(`ciphertalk/${name}`, work) as Promise<T>;
  const previous = tails.get(name) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  tails.set(name, tail);
  try {
    return await run;
  } finally {
    if (tails.get(name) === tail) tails.delete(name);
  }
}
