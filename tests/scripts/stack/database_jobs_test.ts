import assert from "node:assert/strict";
import { LOCAL_DATABASE_JOBS, scheduleDatabaseJobs } from "../../../scripts/stack/database_jobs.ts";
import { stack } from "../../_support/stack.ts";

Deno.test("scheduleDatabaseJobs() runs each job at start, reports it, and stops cleanly", async () => {
  const lines: string[] = [];
  const done = Promise.withResolvers<void>();
  const jobs = scheduleDatabaseJobs({
    dbUrl: stack.dbUrl,
    jobs: [
      ...LOCAL_DATABASE_JOBS,
      {
        name: "broken",
        statement: "select * from no_such_table",
        intervalSeconds: 3600,
        describe: () => "never",
      },
    ],
    report: (line) => {
      lines.push(line);
      if (lines.length === LOCAL_DATABASE_JOBS.length + 1) done.resolve();
    },
  });
  await done.promise;
  await jobs.stop();
  lines.sort();
  assert.match(lines[0]!, /^broken failed \(.*no_such_table.*\)$/);
  assert.match(lines[1]!, /^recommendations refresh: \d+ servers, \d+ pairs in \d+ ms$/);
  assert.match(
    lines[2]!,
    /^usage history fold: \d+ hourly bucket\(s\) past the window deleted \(days kept\)$/,
  );
});
