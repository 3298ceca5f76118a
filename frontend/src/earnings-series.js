// Pure arithmetic behind the earnings chart, kept apart from Chart.js so it
// can be tested under plain Node.
const DAY_MS = 24 * 60 * 60 * 1000;
// Past this many days, draw only the days that earned something.
const MAX_FILLED_DAYS = 1000;

export function parseDay(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso));
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
}

export function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

// Sums points per day, fills the days in between with zero, and adds the
// running total.
export function series(points) {
  const perDay = new Map();
  for (const point of points) {
    const day = parseDay(point && point.date);
    const micros = Number(point && point.micros);
    if (Number.isNaN(day) || !Number.isFinite(micros)) continue;
    perDay.set(day, (perDay.get(day) || 0) + micros);
  }
  let days = Array.from(perDay.keys()).sort((a, b) => a - b);
  if (days.length > 1) {
    const span = Math.round((days[days.length - 1] - days[0]) / DAY_MS) + 1;
    if (span <= MAX_FILLED_DAYS) {
      days = Array.from({ length: span }, (_, i) => days[0] + i * DAY_MS);
    }
  }
  let total = 0;
  return days.map((day) => {
    const daily = perDay.get(day) || 0;
    total += daily;
    return { date: isoDay(day), daily, total };
  });
}

