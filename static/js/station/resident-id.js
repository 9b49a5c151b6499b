// The 18-digit resident ID number (GB 11643): the same checks as app/domain/identity.py, as
// the number is typed, so a mistyped digit is caught before the form is sent.
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = "10X98765432";
const PROVINCES = new Set(("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 " +
  "50 51 52 53 54 61 62 63 64 65 71 81 82 83").split(" "));

export function checkChar(first17) {
  let total = 0;
  for (let i = 0; i < 17; i += 1) total += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[total % 11];
}

/** {ok, born} or {ok: false, problem (a string key), vars}. Full-width digits are accepted. */
export function checkResidentId(raw, today) {
  const value = raw.normalize("NFKC").replace(/\s+/g, "").toUpperCase();
  if (!/^[0-9]{0,17}[0-9X]?$/.test(value) || /X./.test(value)) return { ok: false, problem: "id_chars", vars: {} };
  if (value.length >= 2 && !PROVINCES.has(value.slice(0, 2))) {
    return { ok: false, problem: "id_region", vars: { code: value.slice(0, 2) } };
  }
  if (value.length >= 14) {
    const [y, m, d] = [value.slice(6, 10), value.slice(10, 12), value.slice(12, 14)].map(Number);
    const born = new Date(y, m - 1, d);
    const real = born.getFullYear() === y && born.getMonth() === m - 1 && born.getDate() === d;
    if (!real || born > today || today.getFullYear() - y > 130) {
      return { ok: false, problem: "id_date", vars: { date: value.slice(6, 14) } };
    }
  }
  if (value.length < 18) return { ok: false, problem: "id_short", vars: { count: 18 - value.length } };
  const expected = checkChar(value.slice(0, 17));
  if (value[17] !== expected) return { ok: false, problem: "id_checksum", vars: { expected } };
  return { ok: true, born: `${value.slice(6, 10)}-${value.slice(10, 12)}-${value.slice(12, 14)}` };
}
