// Byte counts as people read them on upload forms (1 MB = 1024 × 1024 bytes,
// matching how server upload limits are usually configured).
export function formatBytes(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} ${value === 1 ? "byte" : "bytes"}`;
  return `${value.toFixed(1).replace(/\.0$/, "")} ${units[unit]}`;
}
