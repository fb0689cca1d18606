// Rendering answers of APIs this dashboard does not own (people, campaigns, attribution)
// without hard-wiring every field: arrays become tables, objects become lists.

import { h, table } from "../dom.js";
import * as fmt from "../format.js";

const MONEY = /(spend|cost|revenue|value|cpc|cpa)/;
const PERCENT = /(rate|roi|pct|percent|share|credit)/;
const TIME = /(_at|date|time|day)$/;

export function humanize(key) {
  return key.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

export function cell(key, value, tz) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (typeof value === "number") {
    if (PERCENT.test(key)) return fmt.pct(value);
    if (MONEY.test(key)) return value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return fmt.dec(value);
  }
  if (typeof value === "string" && TIME.test(key) && !Number.isNaN(fmt.toDate(value).getTime())) return fmt.dateTime(value, tz);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function rowsOf(body, ...keys) {
  if (Array.isArray(body)) return body;
  for (const key of keys) {
    if (body && Array.isArray(body[key])) return body[key];
  }
  return [];
}

export function autoTable(rows, { caption, tz, skip = [], links = {} } = {}) {
  const scalar = (v) => v === null || v === undefined || typeof v !== "object";
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))]
    .filter((k) => !skip.includes(k) && rows.every((r) => scalar(r[k])));
  return table(keys.map((k) => ({
    label: humanize(k),
    num: rows.some((r) => typeof r[k] === "number"),
    render: (r) => (links[k] && r[k] ? h("a", { href: links[k](r[k]) }, cell(k, r[k], tz)) : cell(k, r[k], tz)),
  })), rows, { caption });
}

export function facts(obj, { tz, skip = [] } = {}) {
  const entries = Object.entries(obj || {}).filter(([k, v]) => !skip.includes(k) && (v === null || typeof v !== "object"));
  return h("dl", { class: "facts" }, entries.map(([k, v]) => h("div", {}, h("dt", {}, humanize(k)), h("dd", {}, cell(k, v, tz)))));
}
