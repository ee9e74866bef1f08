//! Email addresses as the gateway accepts them from clients: plain `local@domain`.

/// Longest address RFC 5321 allows through a mail server.
const MAX_ADDRESS_CHARS: usize = 254;

/// A plain `local@domain` address: no display name, nothing that would split or end it on the
/// wire (commas separate addresses upstream), a dotted domain.
pub(crate) fn is_plain(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let plain = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !",;:<>()[]\\\"@".contains(c))
    };
    address.chars().count() <= MAX_ADDRESS_CHARS
        && plain(local)
        && plain(domain)
        && domain.split('.').count() > 1
        && domain.split('.').all(|label| !label.is_empty())
}
