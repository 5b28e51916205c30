//! The audit trail's facts about this machine: who runs the harness, on which
//! host, and the SHA-256 of the scenario it ran.

/// The user this process runs as: `$USER`, `$LOGNAME` or `$USERNAME` when
/// set, else the operating system's account name (`whoami`), else `unknown`.
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(|| whoami::username().ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// This machine's host name (`gethostname`), else `$HOSTNAME`, else
/// `unknown`.
pub fn machine() -> String {
    Some(
        gethostname::gethostname()
            .to_string_lossy()
            .trim()
            .to_owned(),
    )
    .filter(|h| !h.is_empty())
    .or_else(|| std::env::var("HOSTNAME").ok())
    .map_or_else(|| "unknown".to_owned(), |h| h.trim().to_owned())
}

/// The SHA-256 of `bytes`, lower-case hexadecimal.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_lower_case_hex_and_the_names_are_never_empty() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!os_user().is_empty());
        assert!(!machine().is_empty());
    }
}
