// Earnings chart: every <canvas class="earnings-chart"> with its
// <script type="application/json" class="earnings-data"> becomes daily bars
// plus a running-total line.
//
// Data: {"currency": "USD", "points": [{"date": "2026-11-01", "micros": 1234567}]}
// Amounts stay integer micros while summing, so the running total is exact;
// they become currency units only for display.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { parseDay, series } from "./earnings-series.js";
import { onReady } from "./ready.js";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

const DATA_SELECTOR = 'script.earnings-data[type="application/json"]';

function findDataScript(canvas) {
  const inside = canvas.querySelector(DATA_SELECTOR);
  if (inside) return inside;
  for (const sibling of [canvas.nextElementSibling, canvas.previousElementSibling]) {
    if (sibling && sibling.matches(DATA_SELECTOR)) return sibling;
  }
  return canvas.parentElement ? canvas.parentElement.querySelector(`:scope > ${DATA_SELECTOR}`) : null;
}

function moneyFormatter(currency) {
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
  } catch (error) {
    // Unknown currency code: plain number with the code after it.
    const plain = new Intl.NumberFormat(undefined, {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    return { format: (value) => `${plain.format(value)} ${currency}` };
  }
}

function axisFormatter(currency) {
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency,
      notation: "compact",
      maximumFractionDigits: 2,
    });
  } catch (error) {
    return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });
  }
}

const dayLabel = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  timeZone: "UTC",
});

function formatDay(iso) {
  return dayLabel.format(new Date(parseDay(iso)));
}

// Chart.js sizes a responsive chart from its parent; give the canvas a parent
// of its own so the chart's height does not depend on the surrounding layout.
function ensureFrame(canvas) {
  const parent = canvas.parentElement;
  if (parent && parent.classList.contains("earnings-chart-frame")) return parent;
  const frame = document.createElement("div");
  frame.className = "earnings-chart-frame";
  canvas.parentNode.insertBefore(frame, canvas);
  frame.appendChild(canvas);
  return frame;
}

function showMessage(canvas, text, isError) {
  const message = document.createElement("p");
  message.className = isError ? "earnings-message flash flash-error" : "earnings-message muted";
  message.textContent = text;
  canvas.hidden = true;
  canvas.parentNode.insertBefore(message, canvas.nextSibling);
}

function renderChart(canvas) {
  if (canvas.dataset.rendered) return;
  const script = findDataScript(canvas);
  let data;
  try {
    data = script ? JSON.parse(script.textContent) : null;
  } catch (error) {
    data = null;
  }
  if (!data || !Array.isArray(data.points)) {
    showMessage(canvas, "The earnings data could not be read.", true);
    canvas.dataset.rendered = "error";
    return;
  }

  const currency = String(data.currency || "USD").toUpperCase();
  const rows = series(data.points);
  canvas.dataset.pointCount = String(rows.length);
  if (rows.length === 0) {
    showMessage(canvas, "No earnings yet.", false);
    canvas.dataset.rendered = "true";
    return;
  }

  ensureFrame(canvas);
  const money = moneyFormatter(currency);
  const compact = axisFormatter(currency);
  const last = rows[rows.length - 1];
  canvas.setAttribute("role", "img");
  canvas.setAttribute(
    "aria-label",
    `Earnings from ${formatDay(rows[0].date)} to ${formatDay(last.date)}: ${money.format(last.total / 1e6)} in total.`,
  );

  const reducedMotion =
    window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  new Chart(canvas, {
    data: {
      labels: rows.map((row) => row.date),
      datasets: [
        {
          type: "line",
          label: "Total",
          data: rows.map((row) => row.total / 1e6),
          yAxisID: "total",
          borderColor: "#2f5fb3",
          backgroundColor: "#2f5fb3",
          borderWidth: 2,
          pointRadius: rows.length > 60 ? 0 : 3,
          pointHoverRadius: 5,
          tension: 0,
          order: 1,
        },
        {
          type: "bar",
          label: "Per day",
          data: rows.map((row) => row.daily / 1e6),
          yAxisID: "daily",
          backgroundColor: "rgba(164, 90, 0, 0.45)",
          borderColor: "rgba(164, 90, 0, 0.8)",
          borderWidth: 1,
          maxBarThickness: 24,
          order: 2,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: {
          type: "category",
          ticks: {
            autoSkip: true,
            maxRotation: 0,
            callback(value) {
              return formatDay(this.getLabelForValue(value));
            },
          },
          grid: { display: false },
        },
        total: {
          type: "linear",
          position: "left",
          beginAtZero: true,
          title: { display: true, text: `Total (${currency})` },
          ticks: { callback: (value) => compact.format(value) },
        },
        daily: {
          type: "linear",
          position: "right",
          beginAtZero: true,
          title: { display: true, text: `Per day (${currency})` },
          ticks: { callback: (value) => compact.format(value) },
          grid: { drawOnChartArea: false },
        },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? formatDay(items[0].label) : ""),
            label: (item) => `${item.dataset.label}: ${money.format(item.parsed.y)}`,
          },
        },
      },
    },
  });
  canvas.dataset.rendered = "true";
}

onReady(() => {
  for (const canvas of document.querySelectorAll("canvas.earnings-chart")) {
    try {
      renderChart(canvas);
    } catch (error) {
      showMessage(canvas, "The earnings chart could not be drawn.", true);
      canvas.dataset.rendered = "error";
      console.error(error);
    }
  }
});
