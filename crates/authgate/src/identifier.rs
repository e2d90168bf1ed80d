//! Identifiers from the network: client ids, usernames, and the other names a request
//! presents to look something up.
//!
//! No stored client or user is named with a control character (C0, DEL or C1), and some
//! stores cannot even hold one: PostgreSQL's `text` refuses NUL. A presented identifier
//! holding one therefore names nothing, and the engine answers as it does for an unknown
//! name (`invalid_client`, `invalid_grant`, "unknown client_id") without asking a store.

/// Whether `value` holds a control character (C0 `U+0000..=U+001F`, DEL, or C1
/// `U+0080..=U+009F`): such a presented identifier cannot name anything stored.
///
/// ```
/// use authgate::identifier::has_control_characters;
/// assert!(has_control_characters("web\0"));
/// assert!(has_control_characters("al\u{1b}ice"));
/// assert!(has_control_characters("x\u{85}"));
/// assert!(!has_control_characters("c 1 wörd"));
/// ```
pub fn has_control_characters(value: &str) -> bool {
    value.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::has_control_characters;

    #[test]
    fn control_characters_are_c0_del_and_c1_only() {
        for c in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let s = format!("id{}", char::from_u32(c).unwrap());
            assert!(has_control_characters(&s), "{c:#x}");
        }
        for s in [
            "",
            "web",
            "c 1",
            "p@ss:wörd",
            "\u{202e}rtl",
            "🙂",
            "a\u{a0}b",
        ] {
            assert!(!has_control_characters(s), "{s:?}");
        }
    }
}
