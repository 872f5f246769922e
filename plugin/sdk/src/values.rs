//! Small value checks and formats every connector needs, in one place:
//! a time as ISO 8601 UTC ([`iso_utc`]), the contract's deduplication key
//! ([`dedup_key_ok`]), and a PSA's positive integer id given as text
//! ([`positive_id`], [`positive_id_i32`]).
//!
//! ```
//! use psa_connector_sdk::values::{dedup_key_ok, iso_utc, positive_id};
//! assert_eq!(iso_utc(1_796_041_445), "2026-11-30T12:24:05Z");
//! assert!(dedup_key_ok("o365:mfa:42") && !dedup_key_ok("a b"));
//! assert_eq!((positive_id("42"), positive_id("042"), positive_id("-1")), (Some(42), None, None));
//! ```

/// The latest time [`iso_utc`] writes: 9999-12-31T23:59:59Z, in seconds
/// since 1970. Later times (a hostile or mistaken `since`) are clamped to it,
/// so that a PSA never reads a five-digit year.
pub const MAX_ISO_SECONDS: u64 = 253_402_300_799;

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since 1970-01-01T00:00:00Z (UTC),
/// clamped to [`MAX_ISO_SECONDS`]. Pure arithmetic (H. Hinnant's civil-from-
/// days), no clock and no overflow.
pub fn iso_utc(unix_seconds: u64) -> String {
    let unix = unix_seconds.min(MAX_ISO_SECONDS);
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// The longest deduplication key the contract allows (`new-ticket.dedup-key`).
pub const DEDUP_KEY_MAX: usize = 100;

/// Whether `key` is a deduplication key of the contract's form: 1 to
/// [`DEDUP_KEY_MAX`] characters of `[A-Za-z0-9._:-]`.
pub fn dedup_key_ok(key: &str) -> bool {
    !key.is_empty() && key.len() <= DEDUP_KEY_MAX && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// A positive whole number written strictly in decimal digits (no sign, no
/// spaces, no leading zero) that fits an `i64`: a PSA id as the import
/// returned it. Anything else is `None`.
pub fn positive_id(raw: &str) -> Option<i64> {
    let digits = !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    digits.then(|| raw.parse::<i64>().ok()).flatten().filter(|n| *n > 0)
}

/// [`positive_id`] for a PSA whose ids are 32-bit (Autotask's references).
pub fn positive_id_i32(raw: &str) -> Option<i32> {
    positive_id(raw).and_then(|n| i32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_utc_and_clamped_to_year_9999() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_796_041_445), "2026-11-30T12:24:05Z");
        assert_eq!(iso_utc(MAX_ISO_SECONDS), "9999-12-31T23:59:59Z");
        for huge in [MAX_ISO_SECONDS + 1, 1 << 40, u64::MAX] {
            assert_eq!(iso_utc(huge), "9999-12-31T23:59:59Z", "{huge}");
        }
    }

    #[test]
    fn dedup_keys_of_the_contracts_form() {
        for ok in ["k", "o365:mfa:42", "A.b_c-d:9", &"x".repeat(100)] {
            assert!(dedup_key_ok(ok), "{ok}");
        }
        for bad in ["", "a b", "k\n", "ключ", "a/b", "[k]", &"x".repeat(101)] {
            assert!(!dedup_key_ok(bad), "{bad}");
        }
    }

    #[test]
    fn ids_are_strict_positive_digits() {
        assert_eq!(positive_id("42"), Some(42));
        assert_eq!(positive_id("9223372036854775807"), Some(i64::MAX));
        for bad in ["", "0", "007", "-4", "+12", " 42", "42 ", "1e3", "abc", "4.0", "9223372036854775808", "99999999999999999999"] {
            assert_eq!(positive_id(bad), None, "{bad}");
        }
        assert_eq!(positive_id_i32("2147483647"), Some(i32::MAX));
        assert_eq!(positive_id_i32("2147483648"), None);
    }
}
