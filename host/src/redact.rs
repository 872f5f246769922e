//! Keeping secrets out of logs, errors and output.
//!
//! [`scrub`] replaces every occurrence of a secret value (and of its
//! form-urlencoded and JSON-escaped spellings) in a text. The host applies
//! it to everything a connector produces that reaches a person: guest
//! output, error messages, check-step messages.

/// What [`scrub`] puts where a secret was.
pub const REDACTED: &str = "[redacted]";

/// Replaces each secret (at least 4 characters long) in `text` by [`REDACTED`].
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() < 4 {
            continue;
        }
        for variant in spellings(s) {
            if out.contains(&variant) {
                out = out.replace(&variant, REDACTED);
            }
        }
    }
    out
}

/// The length of the longest end of `text` that is the start (not the
/// whole) of a secret's spelling: text that a later write could complete
/// into a secret. 0 when there is none.
pub(crate) fn unfinished_secret(text: &str, secrets: &[String]) -> usize {
    let mut longest = 0;
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        for variant in spellings(s) {
            for k in (longest + 1..variant.len()).rev() {
                if k <= text.len() && variant.is_char_boundary(k) && text.ends_with(&variant[..k]) {
                    longest = k;
                    break;
                }
            }
        }
    }
    longest
}

fn spellings(s: &str) -> Vec<String> {
    let mut v = vec![s.to_string()];
    let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    if form != s {
        v.push(form);
    }
    if let Ok(json) = serde_json::to_string(s) {
        let inner = json.trim_matches('"').to_string();
        if inner != s {
            v.push(inner);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_spelling() {
        let secrets = vec!["p@ss w/rd\"x".to_string(), "abc".to_string()];
        let text = "a p@ss w/rd\"x b p%40ss+w%2Frd%22x c p@ss w/rd\\\"x abc";
        let out = scrub(text, &secrets);
        assert_eq!(out, "a [redacted] b [redacted] c [redacted] abc");
    }

    #[test]
    fn an_unfinished_secret_is_found_at_the_end_only() {
        let secrets = vec!["TOP-SECRET".to_string(), "abc".to_string()];
        assert_eq!(unfinished_secret("log: TOP-SEC", &secrets), 7);
        assert_eq!(unfinished_secret("log: T", &secrets), 1);
        assert_eq!(unfinished_secret(&scrub("log: TOP-SECRET", &secrets), &secrets), 0, "a whole secret is scrubbed, not held");
        assert_eq!(unfinished_secret("TOP-SEC log", &secrets), 0);
        assert_eq!(unfinished_secret("ab", &secrets), 0, "secrets under 4 characters are not scrubbed");
    }
}
