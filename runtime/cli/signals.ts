/** Resolves with the name of the first SIGINT or SIGTERM; installing it stops the default exit. */
export function untilSignal(): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  let onSignal!: (signal: NodeJS.Signals) => void;
  const promise = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    promise,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
