import { describe, expect, it } from "vitest";
import { DeviceMemory } from "../../src/admin/device";

/** The Web Storage interface over a Map (node has no localStorage). */
class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

describe("the admin page's device memory", () => {
  it("remembers the device per account, whatever the address's case, until logout", () => {
    const storage = new MemoryStorage();
    const memory = new DeviceMemory(storage);
    memory.remember("Root@Example.org", "d1");
    memory.remember("other@example.org", "d2");
    expect(new DeviceMemory(storage).deviceOf("root@example.org")).toBe("d1");
    memory.forget("ROOT@example.org");
    expect(memory.deviceOf("root@example.org")).toBeUndefined();
    expect(memory.deviceOf("other@example.org")).toBe("d2");
  });
  it("keeps no token, only ids", () => {
    const storage = new MemoryStorage();
    new DeviceMemory(storage).remember("a@example.org", "d1");
    expect(storage.getItem("ciphertalk.admin.devices")).toBe('{"a@example.org":"d1"}');
  });
  it("survives a corrupt entry and no storage at all", () => {
    const storage = new MemoryStorage();
    storage.setItem("ciphertalk.admin.devices", "{not json");
    expect(new DeviceMemory(storage).deviceOf("a@example.org")).toBeUndefined();
    const none = new DeviceMemory(undefined);
    none.remember("a@example.org", "d1");
    expect(none.deviceOf("a@example.org")).toBeUndefined();
  });
});
