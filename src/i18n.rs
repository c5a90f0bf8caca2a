//! The language of messages. Errors, import reports and event notes are written in Chinese, the
//! market's language, and in English; Chinese is the default, English is given to a client whose
//! `Accept-Language` prefers it (and to the command line with `LANG=en...`). Codes never change.

use serde_json::Value;

/// The language of messages: Chinese unless the client prefers English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Zh,
    En,
}

impl Language {
    /// From an `Accept-Language` value: English when an `en` tag has a higher weight than any `zh` one
    /// (`en`, `en-US,en;q=0.9`, `zh;q=0.5, en`); Chinese otherwise, and by default.
    pub fn from_header(value: Option<&str>) -> Language {
        let Some(value) = value else {
            return Language::Zh;
        };
        let (mut zh, mut en) = (-1.0f32, -1.0f32);
        for (i, part) in value.split(',').enumerate().take(20) {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0)
                // Earlier tags of equal weight win.
                - i as f32 * 1e-4;
            if tag == "en" || tag.starts_with("en-") {
                en = en.max(q);
            } else if tag == "zh" || tag.starts_with("zh-") || tag == "*" {
                zh = zh.max(q);
            }
        }
        if en > 0.0 && en > zh { Language::En } else { Language::Zh }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Language::Zh => "zh-CN",
            Language::En => "en",
        }
    }
}

/// Puts the messages of `value` (objects carrying `message` and `message_zh`, as field and row
/// errors do) in `language`, and drops the `message_zh` keys.
pub fn localize(value: &mut Value, language: Language) {
    match value {
        Value::Object(map) => {
            if let Some(zh) = map.remove("message_zh") {
                if language == Language::Zh {
                    map.insert("message".into(), zh);
                }
            }
            map.values_mut().for_each(|v| localize(v, language));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| localize(v, language)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_unless_english_is_preferred() {
        assert_eq!(Language::from_header(None), Language::Zh);
        assert_eq!(Language::from_header(Some("en")), Language::En);
        assert_eq!(Language::from_header(Some("en-US,en;q=0.9")), Language::En);
        assert_eq!(Language::from_header(Some("zh-CN,zh;q=0.9,en;q=0.8")), Language::Zh);
        assert_eq!(Language::from_header(Some("zh;q=0.5, en")), Language::En);
        assert_eq!(Language::from_header(Some("fr")), Language::Zh);
        assert_eq!(Language::from_header(Some("en;q=0")), Language::Zh);
    }
}
