import assert from "node:assert/strict";
import { test } from "node:test";
import { series } from "../src/earnings-series.js";

test("points on the same day are summed and the running total is exact", () => {
  const rows = series([
    { date: "2026-11-02", micros: 250000 },
    { date: "2026-11-01", micros: 1234567 },
    { date: "2026-11-02", micros: 500000 },
  ]);
  assert.deepEqual(rows, [
    { date: "2026-11-01", daily: 1234567, total: 1234567 },
    { date: "2026-11-02", daily: 750000, total: 1984567 },
  ]);
});

test("days without earnings are filled with zero so the axis is true to time", () => {
  const rows = series([
    { date: "2026-11-01", micros: 1 },
    { date: "2026-11-04", micros: 2 },
  ]);
  assert.deepEqual(
    rows.map((row) => [row.date, row.daily, row.total]),
    [
      ["2026-11-01", 1, 1],
      ["2026-11-02", 0, 1],
      ["2026-11-03", 0, 1],
      ["2026-11-04", 2, 3],
    ],
  );
});

test("a month boundary and a timestamped date are handled", () => {
  const rows = series([
    { date: "2026-10-31T23:00:00Z", micros: 5 },
    { date: "2026-11-01", micros: 5 },
  ]);
  assert.deepEqual(
    rows.map((row) => row.date),
    ["2026-10-31", "2026-11-01"],
  );
});

test("unreadable points are skipped and no points give no rows", () => {
  assert.deepEqual(series([{ date: "soon", micros: 5 }, { date: "2026-11-01" }]), []);
  assert.deepEqual(series([]), []);
});
