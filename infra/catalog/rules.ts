// Cross-workshop rules: what makes slots safe to hand out on every backend.
import type { StackConfig } from "../config";
import type { CatalogIssue, Workshop } from "./schema";

type Shape = Pick<Workshop, "name" | "capacity" | "range" | "locations">;

export function checkCatalog<W extends Shape>(workshops: W[], config: StackConfig, fileOf: (w: W) => string): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const error = (w: W, field: string, message: string) => issues.push({ file: fileOf(w), field, message, severity: "error" });
  const pools = new Map(config.locations.map((l) => [l.name, l.slotPool]));

  const byName = new Map<string, W>();
  for (const w of workshops) {
    const first = byName.get(w.name);
    if (first) error(w, "name", `workshop ${w.name} is also defined in ${fileOf(first)}`);
    else byName.set(w.name, w);

    const size = w.range.max - w.range.min + 1;
    if (w.capacity > size) error(w, "capacity", `capacity ${w.capacity} is above the range size ${size} (${w.range.min}-${w.range.max})`);

    for (const location of w.locations) {
      const field = location === w.locations[0] ? "location" : "alternateLocation";
      const pool = pools.get(location);
      if (!pool) {
        error(w, field, `location "${location}" is not in the stack config (known: ${[...pools.keys()].join(", ")})`);
      } else if (w.range.min < pool.min || w.range.max > pool.max) {
        error(w, "range", `range ${w.range.min}-${w.range.max} is outside the slot pool ${pool.min}-${pool.max} of location ${location}`);
      }
    }
  }

  // Ranges hosted on one backend never overlap: a slot user belongs to one workshop at a time.
  for (const location of pools.keys()) {
    const hosted = workshops.filter((w) => w.locations.includes(location)).sort((a, b) => a.range.min - b.range.min);
    for (let i = 0; i < hosted.length; i++) {
      for (let j = i + 1; j < hosted.length && hosted[j].range.min <= hosted[i].range.max; j++) {
        const [a, b] = [hosted[i], hosted[j]];
        error(b, "range", `range ${b.range.min}-${b.range.max} overlaps ${a.name} (${a.range.min}-${a.range.max}) on location ${location}`);
      }
    }
  }
  return issues;
}
