// Booking codes as the check-in desk gets them: typed (any case, with spaces or dashes) or read by
// a scanner from a confirmation's QR code, which holds the code, or perhaps an address ending with it.
// The same alphabet and normalising as app/domain/appointments.py (CODE_ALPHABET, normal_code).
const CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/;
const ADDRESS = /^[a-z][a-z0-9+.-]*:\/\/|\//i;

function normal(text) {
  return text.normalize("NFKC").toUpperCase().replace(/[^A-Z0-9]/g, "");
}

/** The code in what was typed or scanned, normalised; null when there is none. An address gives
 * its last path segment that is a code (…/CODE, …/CODE/confirmation; its ?query and #part aside).
 * `strict`: only a whole code or such an address (not a typed fragment, which the server judges). */
export function bookingCode(text, { strict = false } = {}) {
  const value = (text || "").trim();
  if (ADDRESS.test(value)) {
    const segments = value.replace(/[?#].*$/, "").split("/").filter(Boolean).reverse();
    for (const segment of segments) {
      const code = normal(segment);
      if (CODE.test(code)) return code;
    }
    return null;
  }
  const code = normal(value);
  if (strict) return CODE.test(code) ? code : null;
  return code.length >= 4 && code.length <= 60 ? code : null;
}

/** Whether the text is an address (a QR code's URL) rather than something typed. */
export function isAddress(text) {
  return ADDRESS.test((text || "").trim());
}
