// A `wod notify --once` pass in its own process, for tests that kill a worker mid-send:
// WOD_TEST_NOTIFY = {"url": …, "config": {raw stack config}, "seed": …, "worker": …}.
import { Pool } from "pg";
import { parseStackConfig } from "../../infra/config";
import { notifyOnce } from "../../infra/notify/run";

const o = JSON.parse(process.env.WOD_TEST_NOTIFY!);
const pool = new Pool({ connectionString: o.url, application_name: o.worker });
notifyOnce({
  pool, config: parseStackConfig(o.config, "test"), worker: o.worker,
  secrets: { smtpPassword: async () => undefined, passwordSeed: async () => o.seed },
}).then(
  async (r) => {
    console.log(JSON.stringify(r));
    await pool.end();
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
