//! Text that leaves a tool (JUnit reports, log lines) made safe: ANSI escapes stripped and
//! secrets redacted (crate::redact), characters XML 1.0 forbids replaced, sizes bounded.

use std::path::Path;

/// Bytes of captured output kept from the start and from the end of a stream (close to the
/// 50 000 + 50 000 characters Jenkins itself keeps for failing cases).
pub const OUTPUT_HALF: usize = 64 * 1024;

/// Longest `message=` attribute; details go into the element body.
pub const MESSAGE_MAX: usize = 1024;

/// Text safe for XML 1.0 and for Jenkins: escape sequences stripped and secrets masked (by
/// [`crate::redact::redact`], in that order), then every character XML forbids (C0 controls,
/// U+FFFE, U+FFFF; lone surrogates cannot occur in `str`) replaced with U+FFFD.
pub(crate) fn sanitize(text: &str) -> String {
    let redacted = crate::redact::redact(text);
    if is_clean(&redacted) {
        return redacted.into_owned(); // the common case: one copy, no per-character work
    }
    redacted
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
        .collect()
}

/// Whether `text` has nothing to replace: no C0 control other than tab, LF and CR, and no
/// U+FFFE/U+FFFF (UTF-8 `EF BF BE`/`EF BF BF`). Checked on bytes, which is fast.
fn is_clean(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'\t' | b'\n' | b'\r' => true,
        0..=0x1f => false,
        0xef => !(bytes.get(i + 1) == Some(&0xbf) && matches!(bytes.get(i + 2), Some(0xbe | 0xbf))),
        _ => true,
    })
}

/// XML 1.0 `Char`: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

/// The first line of `text`, sanitised and at most [`MESSAGE_MAX`] bytes, for `message=`.
pub fn one_line(text: &str) -> String {
    let first = text.trim().lines().next().unwrap_or("").trim();
    let clean = sanitize(first);
    truncate(&clean, MESSAGE_MAX).to_string()
}

/// Captured output bounded to its first and last [`OUTPUT_HALF`] bytes with a marker between.
pub fn bounded(text: &str) -> String {
    bounded_with_log(text, None)
}

/// Like [`bounded`]; the marker names the file holding the full output.
pub fn bounded_with_log(text: &str, full_log: Option<&Path>) -> String {
    let clean = sanitize(text);
    if clean.len() <= 2 * OUTPUT_HALF {
        return clean;
    }
    let head = truncate(&clean, OUTPUT_HALF);
    let mut tail_start = clean.len() - OUTPUT_HALF;
    while !clean.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let omitted = tail_start - head.len();
    let where_full = match full_log {
        Some(path) => format!("; full output in {}", path.display()),
        None => String::new(),
    };
    format!(
        "{head}\n[... {omitted} bytes omitted{where_full} ...]\n{}",
        &clean[tail_start..]
    )
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_ansi_and_replaces_illegal_characters() {
        let raw =
            "\u{1b}[31mred\u{1b}[0m nul\u{0} esc\u{1b} fffe\u{fffe} ffff\u{ffff} bell\u{7} ok\ttab";
        assert_eq!(
            sanitize(raw),
            "red nul\u{fffd} esc fffe\u{fffd} ffff\u{fffd} bell\u{fffd} ok\ttab"
        );
        assert_eq!(sanitize("\u{1b}]0;title\u{7}text"), "text");
        assert_eq!(sanitize("emoji 🎉 kept"), "emoji 🎉 kept");
    }

    #[test]
    fn one_line_takes_the_first_line_and_caps_it() {
        assert_eq!(one_line("\n first \nsecond"), "first");
        let long = "é".repeat(1000);
        let capped = one_line(&long);
        assert!(capped.len() <= MESSAGE_MAX && capped.len() >= MESSAGE_MAX - 1);
    }

    #[test]
    fn bounded_keeps_head_and_tail_with_a_marker() {
        let text = format!("{}{}{}", "a".repeat(100_000), "MIDDLE", "z".repeat(100_000));
        let out = bounded_with_log(&text, Some(Path::new("reports/unit.log")));
        assert!(out.starts_with(&"a".repeat(OUTPUT_HALF)));
        assert!(out.ends_with(&"z".repeat(OUTPUT_HALF)));
        assert!(!out.contains("MIDDLE"));
        assert!(out.contains("bytes omitted; full output in reports/unit.log"));
        assert_eq!(bounded("short"), "short");
    }
}
