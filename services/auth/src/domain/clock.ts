/** Epoch milliseconds. Injected everywhere time matters so tests can freeze and move it. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
