//! Cursors for `list-customers`: page numbers, next links, and the
//! `fetched` count that stays right when the host retries a page.
//!
//! The contract: the cursor is opaque to the platform; `None` starts an
//! import; the same cursor reads the same page again (the host retries a
//! failed call with it); `None` as next cursor ends the import. A cursor
//! comes back from the host, so it is checked like any input.

use std::collections::HashMap;

/// Why a cursor is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorError {
    /// Not a cursor this connector issues (the value as given, clipped to 100 characters).
    NotIssued(String),
    /// A next link to another origin than the PSA's (the link's origin).
    OtherOrigin(String),
    /// The PSA named a next page that is not after the current one, so the
    /// import would never end (current, next).
    NotForward(u32, u32),
}

/// Page-number paging: the page a cursor names (no cursor: page 1).
///
/// ```
/// use psa_connector_sdk::cursor::{page_number, page_cursor, CursorError};
/// assert_eq!(page_number(None), Ok(1));
/// assert_eq!(page_number(Some(&page_cursor(7))), Ok(7));
/// assert!(matches!(page_number(Some("0")), Err(CursorError::NotIssued(_))));
/// ```
pub fn page_number(cursor: Option<&str>) -> Result<u32, CursorError> {
    match cursor {
        None => Ok(1),
        Some(c) => match c.parse::<u32>() {
            Ok(n) if n >= 1 && c.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(CursorError::NotIssued(clip(c))),
        },
    }
}

/// The cursor for page `n`.
pub fn page_cursor(n: u32) -> String {
    n.to_string()
}

/// The next page's cursor when the PSA names the next page number: `None`
/// at the end, an error when the PSA names a page that is not after
/// `current` (a loop).
///
/// ```
/// use psa_connector_sdk::cursor::{next_page, CursorError};
/// assert_eq!(next_page(1, Some(2)), Ok(Some("2".to_string())));
/// assert_eq!(next_page(3, None), Ok(None));
/// assert_eq!(next_page(3, Some(3)), Err(CursorError::NotForward(3, 3)));
/// ```
pub fn next_page(current: u32, next: Option<u32>) -> Result<Option<String>, CursorError> {
    match next {
        None => Ok(None),
        Some(n) if n > current => Ok(Some(page_cursor(n))),
        Some(n) => Err(CursorError::NotForward(current, n)),
    }
}

/// Next-link paging: the absolute URL of the next page from a link the PSA
/// sent (absolute, or relative to `base`), refused unless it stays on the
/// origin (scheme, host and port) of `base`. Use it both on the PSA's
/// answer and on a cursor coming back from the host.
///
/// ```
/// use psa_connector_sdk::cursor::{next_link, CursorError};
/// let base = "https://psa.example.com/api/customers";
/// assert_eq!(next_link(base, "/api/customers?after=95").as_deref(), Ok("https://psa.example.com/api/customers?after=95"));
/// assert_eq!(next_link(base, "https://evil.example/x"), Err(CursorError::OtherOrigin("https://evil.example".into())));
/// ```
pub fn next_link(base: &str, link: &str) -> Result<String, CursorError> {
    let base = url::Url::parse(base).map_err(|_| CursorError::NotIssued(clip(base)))?;
    let next = base.join(link.trim()).map_err(|_| CursorError::NotIssued(clip(link)))?;
    if !matches!(next.scheme(), "http" | "https") || next.origin() != base.origin() {
        return Err(CursorError::OtherOrigin(next.origin().ascii_serialization()));
    }
    Ok(next.into())
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

/// The `fetched` count of `customer-page` (customers returned so far in this
/// import), kept right when the host retries a page: the count before each
/// page is remembered by the page's cursor.
///
/// ```
/// use psa_connector_sdk::cursor::Progress;
/// let mut p = Progress::default();
/// assert_eq!(p.page(None, 100, Some("2")), 100);
/// assert_eq!(p.page(Some("2"), 50, None), 150);
/// assert_eq!(p.page(Some("2"), 50, None), 150); // the host retried page 2
/// ```
#[derive(Clone, Debug, Default)]
pub struct Progress {
    before: HashMap<String, u64>,
}

impl Progress {
    /// Record a page read with `cursor` that returned `customers` and named
    /// `next`; the `fetched` to report. A page read without a cursor starts
    /// a new import.
    pub fn page(&mut self, cursor: Option<&str>, customers: usize, next: Option<&str>) -> u64 {
        let before = match cursor {
            None => {
                self.before.clear();
                0
            }
            Some(c) => self.before.get(c).copied().unwrap_or(0),
        };
        let fetched = before.saturating_add(u64::try_from(customers).unwrap_or(u64::MAX));
        if let Some(n) = next {
            self.before.insert(n.to_string(), fetched);
        }
        fetched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers() {
        for bad in ["", "0", "-1", "+2", "x", "4294967296", " 2"] {
            assert!(matches!(page_number(Some(bad)), Err(CursorError::NotIssued(_))), "{bad}");
        }
        assert_eq!(page_number(Some("4294967295")), Ok(u32::MAX));
        assert_eq!(next_page(u32::MAX, Some(1)), Err(CursorError::NotForward(u32::MAX, 1)));
        let long = "9".repeat(500);
        assert!(matches!(page_number(Some(&long)), Err(CursorError::NotIssued(s)) if s.len() == 100));
    }

    #[test]
    fn next_links_stay_on_the_origin() {
        let base = "https://psa.example.com/api/customers?page=1";
        assert_eq!(next_link(base, "?page=2").as_deref(), Ok("https://psa.example.com/api/customers?page=2"));
        assert_eq!(next_link(base, "https://PSA.example.com:443/api/c?x=1").as_deref(), Ok("https://psa.example.com/api/c?x=1"));
        for bad in ["http://psa.example.com/api", "https://psa.example.com:8443/api", "//other.example/x", "javascript:alert(1)", "file:///etc/passwd"] {
            assert!(matches!(next_link(base, bad), Err(CursorError::OtherOrigin(_))), "{bad}");
        }
        assert!(matches!(next_link("not a url", "/x"), Err(CursorError::NotIssued(_))));
    }

    #[test]
    fn progress_restarts_and_survives_retries() {
        let mut p = Progress::default();
        assert_eq!(p.page(None, 3, Some("a")), 3);
        assert_eq!(p.page(Some("a"), 2, Some("b")), 5);
        assert_eq!(p.page(Some("a"), 2, Some("b")), 5);
        assert_eq!(p.page(Some("b"), 0, None), 5);
        assert_eq!(p.page(None, 1, None), 1);
        assert_eq!(p.page(Some("unknown"), 4, None), 4);
    }
}
