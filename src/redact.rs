//! Keeping secrets out of what the process prints and logs.
//!
//! Settings may carry credentials inside values that are otherwise fine to show (a URL's
//! `user:password@`); whatever names such a setting in a banner, a log line or an error shows
//! it through here.

use url::Url;

/// `url` without its user name and password, for banners, logs and errors.
pub(crate) fn url(url: &Url) -> Url {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials at all (`mailto:`), which then have
    // none to hide.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_dropped_and_the_rest_kept() {
        let with = Url::parse("https://gateway:s3cret@api.example:8443/base?x=1").unwrap();
        assert_eq!(url(&with).as_str(), "https://api.example:8443/base?x=1");
        let token_only = Url::parse("redis://:t0ken@redis:6379").unwrap();
        assert_eq!(url(&token_only).as_str(), "redis://redis:6379");
        let without = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(url(&without), without);
    }
}
