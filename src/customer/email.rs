//! The normalized form under which emails are unique (SPEC §4).

use unicode_normalization::UnicodeNormalization;

/// Trimmed, Unicode NFC, lowercased. Lowercasing can produce sequences that
/// are no longer in NFC, so the result is composed once more: the form must be
/// stable, or two spellings of one address could hold two sentinels.
pub fn normalize(email: &str) -> String {
    let composed: String = email.trim().nfc().collect();
    composed.to_lowercase().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn case_and_space_do_not_matter() {
        assert_eq!(normalize(" Jane@Example.COM "), "jane@example.com");
        assert_eq!(normalize("jane@example.com"), normalize("JANE@EXAMPLE.COM"));
    }

    #[test]
    fn composed_and_decomposed_forms_are_one_address() {
        // "é" precomposed versus "e" + combining acute accent.
        assert_eq!(
            normalize("jos\u{e9}@example.com"),
            normalize("jose\u{301}@example.com")
        );
        assert_eq!(
            normalize("JOS\u{c9}@example.com"),
            normalize("jose\u{301}@example.com")
        );
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for s in [
            "Jane@Example.com",
            "ÅNGSTRÖM@x.se",
            "\u{130}stanbul@x.tr",
            "ß@x.de",
        ] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once);
        }
    }
}
