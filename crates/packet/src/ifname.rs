//! Linux interface names: what a port or device may be called.

/// The kernel's IFNAMSIZ: a name and its terminating NUL.
pub const IFNAMSIZ: usize = 16;

/// Whether `name` can name a Linux interface: 1 to 15 bytes, not `.` or
/// `..`, without `/`, `:`, whitespace or control characters.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["eth0", "a", "vepa-s1.up", "123456789012345"] {
            assert!(valid_ifname(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "1234567890123456",
        ] {
            assert!(!valid_ifname(bad), "{bad:?}");
        }
    }
}
