// `npm run bench`: figures to watch as the platform grows. Each part prints its own table.
import { benchFoundation } from "./foundation";
import { benchHost } from "./host";
import { benchNotify } from "./notify";
import { benchProgram } from "./program";

async function main() {
  const parts: [string, (log: (line: string) => void) => Promise<void>][] = [
    ["decision and database read", benchFoundation],
    ["stack program under the mock engine", benchProgram],
    ["slot activation and release on the test host", benchHost],
    ["e-mails to learners", benchNotify],
  ];
  for (const [title, run] of parts) {
    console.log(`\n== ${title}`);
    const t0 = performance.now();
    await run((line) => console.log(line));
    console.log(`   (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
