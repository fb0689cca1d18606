// Numbers, durations, dates and lead-score tiers for display.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export const num = (v) => (v === null || v === undefined ? "—" : integer.format(v));
export const dec = (v) => (v === null || v === undefined ? "—" : decimal.format(v));
export const pct = (v) => (v === null || v === undefined ? "—" : `${decimal.format(v)}%`);

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function change(v) {
  if (v === null || v === undefined) return { text: "—", kind: "flat" };
  const kind = v > 0 ? "up" : v < 0 ? "down" : "flat";
  const arrow = v > 0 ? "▲" : v < 0 ? "▼" : "";
  return { text: `${arrow} ${decimal.format(Math.abs(v))}%`.trim(), kind };
}

export function timeAgo(iso) {
  const seconds = Math.max(0, (Date.now() - toDate(iso).getTime()) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${Math.floor(seconds)}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return toDate(iso).toLocaleDateString();
}

export function dateTime(iso, timeZone) {
  if (!iso) return "—";
  return toDate(iso).toLocaleString(undefined, {
    timeZone, dateStyle: "medium", timeStyle: "short",
  });
}

/** Today as YYYY-MM-DD in a time zone. */
export function today(timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return t.toISOString().slice(0, 10);
}

export function monthStart(day, offset = 0) {
  const [y, m] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + offset, 1)).toISOString().slice(0, 10);
}

/** Seed 003 §3.2: the intelligence summary tiers and their colours. The seed's labels carry
 * emoji (the API keeps them); the dashboard shows the words and marks the tier by colour, so
 * a machine without an emoji font shows no empty boxes. */
export function tier(score) {
  const v = Number(score) || 0;
  if (v >= 81) return { key: "premium", label: "Premium Opportunity" };
  if (v >= 61) return { key: "hot", label: "Hot Lead" };
  if (v >= 31) return { key: "warm", label: "Standard Traffic" };
  return { key: "cold", label: "Standard Traffic" };
}

export function path(url) {
  if (!url) return "—";
  try {
    const u = new URL(url);
    return u.pathname + (u.search ? u.search : "");
  } catch {
    return url;
  }
}

export function place(row) {
  const parts = [row.city, row.region, row.country_code].filter(Boolean);
  return parts.length ? parts.join(", ") : "Unknown location";
}

export function source(row) {
  if (row.utm_source) return row.utm_source + (row.utm_campaign ? ` · ${row.utm_campaign}` : "");
  if (row.referrer_domain) return row.referrer_domain;
  if (row.referrer_type && row.referrer_type !== "direct") return row.referrer_type;
  return "Direct";
}

/** Dates from the API (ISO) or the realtime feed ("2026-01-02 10:00:00+00"). */
export function toDate(value) {
  if (!value) return new Date(NaN);
  if (value instanceof Date) return value;
  let text = String(value).replace(" ", "T");
  if (/[+-]\d\d$/.test(text)) text += ":00";
  return new Date(text);
}

/** "1 visit", "3 visits". */
export function count(n, noun) {
  const v = Number(n) || 0;
  return `${v} ${noun}${v === 1 ? "" : "s"}`;
}
