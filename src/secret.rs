//! Secrets (passwords, tokens) that never print: `Debug` and `Display` show
//! `<redacted>`; the value comes out only through [`Secret::expose`], at the one
//! place it is sent.

use std::fmt;
use std::sync::Arc;

/// `value` with all but its last three characters hidden (`*******789`):
/// how a personal value (a document number, a name from an AP's file)
/// appears in anything the harness prints or writes but the ledger.
pub fn mask(value: &str) -> String {
    let shown_from = value.chars().count().saturating_sub(3);
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i < shown_from { '*' } else { c })
        .collect()
}

/// A secret string. Cloning shares it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The value, to be sent where it belongs and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_prints() {
        let s = super::Secret::new("canary-password");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "canary-password");
    }

    #[test]
    fn a_mask_keeps_the_last_three_characters() {
        use super::mask;
        assert_eq!(mask("1234567890"), "*******890");
        assert_eq!(mask("GARZÓN"), "***ZÓN");
        assert_eq!(mask("12"), "12");
        assert_eq!(mask(""), "");
    }
}

/// `message` with each of `secrets` replaced by `<redacted>`.
pub fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "<redacted>");
    }
    out
}

/// From now on a panic message is printed with each of `secrets` replaced by
/// `<redacted>` (a panic that formats a request or a configuration must not
/// print a password). Call again to add more; the earlier ones stay.
pub fn redact_panics(secrets: Vec<String>) {
    use std::sync::{Mutex, OnceLock};
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let first = SECRETS.get().is_none();
    let store = SECRETS.get_or_init(|| Mutex::new(Vec::new()));
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .extend(secrets.into_iter().filter(|s| !s.is_empty()));
    if !first {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let message = match SECRETS.get() {
            None => message,
            Some(store) => scrub(
                &message,
                &store
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("mss-harness panicked{at}: {message}");
    }));
}

#[cfg(test)]
mod panic_tests {
    #[test]
    fn scrubbing_replaces_every_secret() {
        let secrets = vec!["CANARIO-1".to_owned(), "tok-2".to_owned()];
        assert_eq!(
            super::scrub(
                "user x password CANARIO-1 token tok-2 again CANARIO-1",
                &secrets
            ),
            "user x password <redacted> token <redacted> again <redacted>"
        );
    }
}
