import assert from "node:assert/strict";
import { test } from "node:test";
import { formatBytes } from "../src/file-size.js";

test("sizes use binary units with at most one decimal", () => {
  assert.equal(formatBytes(1), "1 byte");
  assert.equal(formatBytes(900), "900 bytes");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(10 * 1024 * 1024), "10 MB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3 GB");
});
