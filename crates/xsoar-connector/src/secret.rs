//! Credentials that cannot be printed by accident.
//!
//! Instance secrets (the SIGNL4 webhook secret, API keys) travel as [`Secret`]: `Debug` and
//! `Display` print `******`, so a secret inside a struct that gets logged or formatted into an
//! error message stays hidden. Reading the value needs an explicit [`Secret::expose`].

use std::fmt;

/// What every masked value is printed as.
pub const MASK: &str = "******";

/// A secret string (password, token, webhook secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Call sites are the only places a secret can leak: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replace every occurrence of this secret in `text` with the mask.
    pub fn mask_in(&self, text: &str) -> String {
        mask_secret_in(text, &self.0)
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
}
