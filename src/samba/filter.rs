//! LDAP filters built from escaped values (RFC 4515), so that an account name such as
//! `*)(objectClass=*` is matched literally and can never widen a search.

/// Escapes `value` for use inside a filter's assertion value: `*`, `(`, `)`, `\` and NUL become
/// `\2a`, `\28`, `\29`, `\5c`, `\00`. Everything else, UTF-8 included, passes through.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// `(attr=value)` with `value` escaped. `attr` must be a literal attribute name of ours.
pub fn equals(attr: &str, value: &str) -> String {
    debug_assert!(attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';'));
    format!("({attr}={})", escape(value))
}

/// `(attr=\\xx\\xx...)`: a binary value, every byte hex-escaped (objectGUID, objectSid).
pub fn equals_bytes(attr: &str, value: &[u8]) -> String {
    debug_assert!(attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';'));
    let escaped: String = value.iter().map(|b| format!("\\{b:02x}")).collect();
    format!("({attr}={escaped})")
}

/// `(&f1 f2 ...)`.
pub fn and(parts: &[&str]) -> String {
    format!("(&{})", parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metacharacters_are_escaped() {
        assert_eq!(escape("*)(objectClass=*"), "\\2a\\29\\28objectClass=\\2a");
        assert_eq!(escape("a\\b\0c"), "a\\5cb\\00c");
        assert_eq!(escape("Jürgen ✓"), "Jürgen ✓");
    }

    #[test]
    fn equality_filter_keeps_its_meaning() {
        let f = equals("sAMAccountName", "x)(|(sAMAccountName=*");
        assert_eq!(f, "(sAMAccountName=x\\29\\28|\\28sAMAccountName=\\2a)");
        // Exactly one unescaped opening and closing parenthesis remain.
        assert_eq!(f.matches('(').count(), 1);
        assert_eq!(f.matches(')').count(), 1);
    }

    #[test]
    fn binary_values_are_hex_escaped() {
        assert_eq!(equals_bytes("objectGUID", &[0x00, 0x2a, 0xff]), "(objectGUID=\\00\\2a\\ff)");
    }
}
