// A benchmark that lacks what it measures ends with the reason in one line.
export function orExit<T>(get: () => T): T {
  try {
    return get();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
