//! Time stamps written into records that outlive a run (the deployment journal, db-migrate's
//! history table): one form everywhere, so records from different tools compare and sort as
//! text.

/// Now, as RFC 3339 UTC with milliseconds and a `Z` (`2026-01-31T12:00:00.123Z`): fixed width,
/// so lexical order is time order.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_rfc3339_utc_with_milliseconds() {
        let now = super::now_rfc3339();
        let parsed = chrono::DateTime::parse_from_rfc3339(&now).expect("RFC 3339");
        assert_eq!(parsed.offset().local_minus_utc(), 0);
        assert_eq!(now.len(), "2026-01-31T12:00:00.123Z".len(), "{now}");
        assert!(now.ends_with('Z'), "{now}");
    }
}
