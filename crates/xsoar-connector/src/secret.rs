//! Credentials that cannot be printed by accident.
//!
//! Instance secrets (the SIGNL4 webhook secret, API keys) travel as [`Secret`]: `Debug` and
//! `Display` print `******`, so a secret inside a struct that gets logged or formatted into an
//! error message stays hidden. Reading the value needs an explicit [`Secret::expose`].

use std::fmt;

/// What every masked value is printed as.
pub const MASK: &str = "******";

/// A secret string (password, token, webhook secret).
///
/// Every string a command returns is searched for its instance's secrets before it is stored,
/// so the substring searcher is built once, with the secret, rather than on every search.
#[derive(Clone)]
pub struct Secret {
    value: String,
    finder: memchr::memmem::Finder<'static>,
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        let finder = memchr::memmem::Finder::new(value.as_bytes()).into_owned();
        Self { value, finder }
    }

    /// The secret value itself. Call sites are the only places a secret can leak: keep them few.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether `text` contains this secret (never, for an empty secret).
    pub fn occurs_in(&self, text: &str) -> bool {
        !self.value.is_empty() && self.finder.find(text.as_bytes()).is_some()
    }

    /// Replace every occurrence of this secret in `text` with the mask.
    pub fn mask_in(&self, text: &str) -> String {
        mask_secret_in(text, &self.value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Replace every occurrence of `secret` in `text` with `******` (no-op for an empty secret).
pub fn mask_secret_in(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("tEaMsEcReT123");
        assert_eq!(format!("{s}"), MASK);
        assert_eq!(format!("{s:?}"), MASK);
        assert_eq!(format!("{:?}", Some(&s)), "Some(******)");
        assert_eq!(s.expose(), "tEaMsEcReT123");
    }

    #[test]
    fn mask_in_replaces_every_occurrence() {
        let s = Secret::new("abc");
        assert_eq!(
            s.mask_in("https://x/webhook/abc?x=abc"),
            "https://x/webhook/******?x=******"
        );
        assert_eq!(mask_secret_in("keep", ""), "keep");
    }

    #[test]
    fn occurs_in_finds_the_secret_anywhere() {
        let s = Secret::new("tEaMsEcReT123");
        assert!(s.occurs_in("tEaMsEcReT123"));
        assert!(s.occurs_in("https://connect.signl4.com/webhook/tEaMsEcReT123?x=1"));
        assert!(!s.occurs_in("tEaMsEcReT12"));
        assert!(!s.occurs_in(""));
        assert!(!Secret::new("").occurs_in("anything"));
        assert_eq!(s, s.clone());
        assert_ne!(s, Secret::new("other"));
    }
}
