// Seats over time: a booking holds a seat from its start to its end (half-open: a session may end
// exactly when the next begins). Registration and the plan count seats with the same rule.

export interface Window {
  start: number;
  end: number;
}

/** The most windows that hold one moment of `within` (all of time when absent). */
export function peakOverlap(windows: Window[], within?: Window): number {
  const events: [number, number][] = [];
  for (const w of windows) {
    const start = within ? Math.max(w.start, within.start) : w.start;
    const end = within ? Math.min(w.end, within.end) : w.end;
    if (start < end) events.push([start, 1], [end, -1]);
  }
  // At one instant, ends come before starts: [a, b) and [b, c) never overlap.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let held = 0;
  let peak = 0;
  for (const [, delta] of events) peak = Math.max(peak, (held += delta));
  return peak;
}
