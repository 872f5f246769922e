//! Tickets opened once per finding, and everything the ticket calls return
//! checked before the host passes it on.
//!
//! [`Session::open_ticket`] is the one place of the deduplication flow:
//! `find-open-ticket(customer, key)`; when a ticket is open, `add-note` on
//! it (private unless asked otherwise) and answer
//! [`TicketOutcome::Noted`]; else `create-ticket` and answer
//! [`TicketOutcome::Created`]. It needs the `ticket-dedup` capability: a
//! connector built against contract 0.1.0 cannot store the key in the PSA,
//! so it cannot deduplicate, and `open_ticket` answers
//! [`HostError::NotOffered`] rather than open a duplicate each time
//! ([`Session::create_ticket`] still opens tickets through it).
//!
//! What a connector returns is hostile input: ids and numbers are bounded
//! ([`Limits::max_ticket_text_bytes`](crate::Limits::max_ticket_text_bytes)),
//! ids are never empty, a link must be an absolute `http` or `https` URL
//! ([`Limits::max_ticket_url_bytes`](crate::Limits::max_ticket_url_bytes)),
//! and an option list is at most
//! [`Limits::max_ticket_options`](crate::Limits::max_ticket_options) long. A
//! value outside these fails the call with [`HostError::Contract`] (never cut
//! or dropped silently). Text is not escaped here: a caller that prints it
//! escapes it for its medium ([`crate::escape`]).

use crate::runtime::Session;
use crate::types::{NewNote, NewTicket, NoteRef, NoteVisibility, OptionKind, TicketOption, TicketRef};
use crate::{HostError, Limits};
use serde::Serialize;

/// The longest deduplication key, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = 100;

/// What [`Session::open_ticket`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum TicketOutcome {
    /// No open ticket had the key: this one was created.
    Created {
        /// The new ticket.
        ticket: TicketRef,
    },
    /// An open ticket had the key: the note was added to it ("noted on
    /// existing ticket"); no ticket was created.
    Noted {
        /// The existing ticket.
        ticket: TicketRef,
        /// The note added.
        note: NoteRef,
    },
}

impl TicketOutcome {
    /// The ticket created or noted.
    pub fn ticket(&self) -> &TicketRef {
        match self {
            TicketOutcome::Created { ticket } | TicketOutcome::Noted { ticket, .. } => ticket,
        }
    }
}

/// `Ok` for a deduplication key the contract accepts: 1 to 100 characters
/// of `[A-Za-z0-9._:-]`; else what is wrong, as a sentence.
pub fn check_dedup_key(key: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if key.is_empty() {
        return Err("the deduplication key is empty; give the finding's stable name (1 to 100 characters of A-Z, a-z, 0-9, '.', '_', ':', '-')".into());
    }
    let chars = key.chars().count();
    if chars > MAX_DEDUP_KEY_CHARS {
        return Err(format!(
            "the deduplication key is {chars} characters long; at most {MAX_DEDUP_KEY_CHARS} are allowed (hash a longer name)"
        ));
    }
    if let Some(bad) = key.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "the deduplication key contains {}, which is not allowed; use only A-Z, a-z, 0-9, '.', '_', ':' and '-'",
            crate::escape::for_terminal(&format!("{bad:?}"))
        ));
    }
    Ok(())
}

/// A ticket reference within the limits: a non-empty id, bounded id and
/// number, and a link that is an absolute http(s) URL; else what is wrong.
pub(crate) fn check_ticket_ref(t: &TicketRef, limits: &Limits) -> Result<(), String> {
    check_id("ticket id", &t.id, limits)?;
    if let Some(n) = &t.number {
        check_text("ticket number", n, limits)?;
    }
    if let Some(u) = &t.url {
        if u.len() > limits.max_ticket_url_bytes {
            return Err(format!(
                "a ticket link of {} bytes; at most {} are accepted (Limits::max_ticket_url_bytes)",
                u.len(),
                limits.max_ticket_url_bytes
            ));
        }
        let scheme = url::Url::parse(u).ok().map(|p| p.scheme().to_string());
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return Err(format!(
                "a ticket link that is not an http or https URL ({}); links are shown to people and must open the PSA",
                crate::escape::for_terminal(&u.chars().take(80).collect::<String>())
            ));
        }
    }
    Ok(())
}

/// An option list within the limits; else what is wrong.
pub(crate) fn check_options(options: &[TicketOption], limits: &Limits) -> Result<(), String> {
    if options.len() > limits.max_ticket_options {
        return Err(format!(
            "ticket-options listed {} options; at most {} are accepted (Limits::max_ticket_options)",
            options.len(),
            limits.max_ticket_options
        ));
    }
    for o in options {
        check_id("option id", &o.id, limits)?;
        check_text("option name", &o.name, limits)?;
    }
    Ok(())
}

pub(crate) fn check_id(what: &str, id: &str, limits: &Limits) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("an empty {what}"));
    }
    check_text(what, id, limits)
}

fn check_text(what: &str, text: &str, limits: &Limits) -> Result<(), String> {
    if text.len() > limits.max_ticket_text_bytes {
        return Err(format!(
            "a {what} of {} bytes; at most {} are accepted (Limits::max_ticket_text_bytes)",
            text.len(),
            limits.max_ticket_text_bytes
        ));
    }
    Ok(())
}

impl Session {
    /// Opens a ticket for a finding once: if the connector finds an open
    /// ticket for the customer and [`NewTicket::dedup_key`], adds a private
    /// note with the ticket's details to it ([`TicketOutcome::Noted`]);
    /// else creates the ticket ([`TicketOutcome::Created`]). Needs the
    /// `ticket-dedup` and `create-ticket` capabilities
    /// ([`HostError::NotOffered`] otherwise: a contract 0.1.0 connector
    /// cannot deduplicate). The key must be 1 to 100 characters of
    /// `[A-Za-z0-9._:-]` ([`HostError::InvalidInput`]).
    pub async fn open_ticket(&mut self, ticket: &NewTicket) -> Result<TicketOutcome, HostError> {
        let note = NewNote {
            body: ticket.details.clone(),
            visibility: NoteVisibility::Private,
            outcome_id: ticket.option(OptionKind::Outcome).map(str::to_string),
        };
        self.open_ticket_noting(ticket, &note).await
    }

    /// [`Session::open_ticket`] with the note to add when the ticket is
    /// already open.
    pub async fn open_ticket_noting(&mut self, ticket: &NewTicket, note: &NewNote) -> Result<TicketOutcome, HostError> {
        const CALL: &str = "open-ticket";
        check_dedup_key(&ticket.dedup_key).map_err(|message| self.invalid_input(CALL, message))?;
        // `find_open_ticket` comes first and needs `ticket-dedup`: a
        // connector that could not find the ticket again never creates one.
        match self.find_open_ticket(&ticket.customer_id, &ticket.dedup_key).await? {
            Some(open) => {
                let note = self.add_note(&open.id, note).await?;
                Ok(TicketOutcome::Noted { ticket: open, note })
            }
            None => Ok(TicketOutcome::Created { ticket: self.create_ticket(ticket).await? }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TicketBody;

    #[test]
    fn a_dedup_key_is_1_to_100_characters_of_the_allowed_set() {
        assert!(check_dedup_key("mfa-disabled:tenant.42_x").is_ok());
        assert!(check_dedup_key(&"k".repeat(100)).is_ok());
        let too_long = check_dedup_key(&"k".repeat(101)).unwrap_err();
        assert!(too_long.contains("101 characters") && too_long.contains("at most 100"), "{too_long}");
        assert!(check_dedup_key("").unwrap_err().contains("empty"));
        for bad in ["a b", "a/b", "ä", "a\nb", "a%20"] {
            let e = check_dedup_key(bad).unwrap_err();
            assert!(e.contains("not allowed") && !e.contains('\n'), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_ticket_ref_needs_an_id_bounded_texts_and_an_http_link() {
        let limits = Limits::default();
        let ok = TicketRef { id: "1".into(), number: Some("T-1".into()), url: Some("https://psa.example/t/1".into()) };
        assert!(check_ticket_ref(&ok, &limits).is_ok());
        assert!(check_ticket_ref(&TicketRef { url: Some("http://127.0.0.1:9/t/1".into()), ..ok.clone() }, &limits).is_ok());
        for url in ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "/relative", "psa.example/t/1"] {
            let e = check_ticket_ref(&TicketRef { url: Some(url.into()), ..ok.clone() }, &limits).unwrap_err();
            assert!(e.contains("not an http or https URL"), "{url}: {e}");
        }
        let long_url = format!("https://psa.example/{}", "a".repeat(limits.max_ticket_url_bytes));
        assert!(check_ticket_ref(&TicketRef { url: Some(long_url), ..ok.clone() }, &limits).unwrap_err().contains("max_ticket_url_bytes"));
        assert!(check_ticket_ref(&TicketRef { id: String::new(), ..ok.clone() }, &limits).unwrap_err().contains("empty ticket id"));
        let long = "7".repeat(limits.max_ticket_text_bytes + 1);
        assert!(check_ticket_ref(&TicketRef { id: long.clone(), ..ok.clone() }, &limits).unwrap_err().contains("max_ticket_text_bytes"));
        assert!(check_ticket_ref(&TicketRef { number: Some(long), ..ok }, &limits).unwrap_err().contains("ticket number"));
    }

    #[test]
    fn an_option_list_is_bounded() {
        let limits = Limits::default();
        let opt = |i: usize| TicketOption { id: i.to_string(), name: format!("o{i}"), is_default: false };
        let at_limit: Vec<_> = (0..limits.max_ticket_options).map(opt).collect();
        assert!(check_options(&at_limit, &limits).is_ok());
        let over: Vec<_> = (0..=limits.max_ticket_options).map(opt).collect();
        assert!(check_options(&over, &limits).unwrap_err().contains("max_ticket_options"));
        let unnamed = TicketOption { id: String::new(), ..opt(1) };
        assert!(check_options(&[unnamed], &limits).unwrap_err().contains("empty option id"));
    }

    #[test]
    fn a_text_body_becomes_escaped_html_for_0_1_0() {
        let b = TicketBody { text: "a<b> & \"c\"\nd".into(), html: None };
        assert_eq!(b.to_html(), "a&lt;b&gt; &amp; &quot;c&quot;<br>d");
        let h = TicketBody { text: "x".into(), html: Some("<p>x</p>".into()) };
        assert_eq!(h.to_html(), "<p>x</p>");
    }
}
