// helm/README.md documents every value of values.yaml, as generated.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { valuesRows, valuesTable, readmePath, BEGIN, END } from "./values_table.mjs";

test("every value in values.yaml has a # -- description", () => {
  assert.ok(valuesRows().length > 0);
});

test("helm/README.md's values table is the one generated from values.yaml", () => {
  const readme = fs.readFileSync(readmePath, "utf8");
  assert.ok(readme.includes(BEGIN) && readme.includes(END), `${readmePath}: table markers missing`);
  const table = readme.split(BEGIN)[1].split(END)[0].trim();
  const want = valuesTable();
  const got = new Set(table.split("\n"));
  for (const row of want.split("\n")) {
    assert.ok(got.has(row), `${readmePath}: row missing or stale (run node tests/helm/values_table.mjs --write):\n  want ${row}`);
  }
  assert.equal(table, want, `${readmePath}: values table has extra or reordered rows (run node tests/helm/values_table.mjs --write)`);
});
