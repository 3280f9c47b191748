//! Migration checksums: SHA-256 over the file with a UTF-8 BOM removed and CRLF/CR turned into
//! LF, so that a checkout on Windows or an editor that adds a BOM does not look like an edited
//! migration (the checksum churn Flyway, Liquibase and sqlx users report). The algorithm's name
//! is stored next to every checksum so that a future algorithm can be told apart.

use sha2::{Digest, Sha256};

/// The name stored in `checksum_algo`.
pub const ALGORITHM: &str = "sha256-lf";

/// The text as it is hashed: BOM stripped, line endings normalised to LF.
pub fn normalise(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Lowercase hex SHA-256 of the normalised text.
pub fn checksum(text: &str) -> String {
    cdkit::hash::hex(&Sha256::digest(normalise(text).as_bytes()))
}

/// `ALGORITHM:hex`, the form shown to people (errors, status).
pub fn display(algo: &str, hex: &str) -> String {
    format!("{algo}:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_and_bom_do_not_change_the_checksum() {
        let lf = checksum("CREATE TABLE a (x int);\nSELECT 1;\n");
        assert_eq!(checksum("CREATE TABLE a (x int);\r\nSELECT 1;\r\n"), lf);
        assert_eq!(checksum("\u{feff}CREATE TABLE a (x int);\nSELECT 1;\n"), lf);
        assert_eq!(checksum("CREATE TABLE a (x int);\rSELECT 1;\r"), lf);
        assert_ne!(checksum("CREATE TABLE a (x bigint);\nSELECT 1;\n"), lf);
        // SHA-256 of the empty string, so the algorithm is what the name says.
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
