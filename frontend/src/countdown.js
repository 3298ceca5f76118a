// Text for a countdown to a deadline, kept free of the DOM so it can be
// tested under plain Node.
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// "3d 4h 12m left", "4h 0m left", "12m left", "less than a minute left",
// or `closedText` once the deadline has passed.
export function countdownText(deadlineMs, nowMs, closedText = "closed") {
  const remaining = deadlineMs - nowMs;
  if (remaining <= 0) return closedText;
  if (remaining < MINUTE) return "less than a minute left";
  const days = Math.floor(remaining / DAY);
  const hours = Math.floor((remaining % DAY) / HOUR);
  const minutes = Math.floor((remaining % HOUR) / MINUTE);
  if (days > 0) return `${days}d ${hours}h ${minutes}m left`;
  if (hours > 0) return `${hours}h ${minutes}m left`;
  return `${minutes}m left`;
}
