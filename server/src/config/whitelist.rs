//! `4lw.commands.whitelist`: which four-letter words the client port answers (Java's
//! `FourLetterCommands.isEnabled` and the parsing in `FourLetterCommands.resetWhiteList`).

use std::collections::BTreeSet;

use super::properties::java_trim;

/// Every command Java 3.8's `FourLetterCommands` knows; `4lw.commands.whitelist=*` enables
/// exactly these. (`telnet close` is the telnet interrupt sequence `0xfff4fffd`.)
pub const KNOWN_FOUR_LETTER_WORDS: [&str; 19] = [
    "conf",
    "cons",
    "crst",
    "dirs",
    "dump",
    "envi",
    "gtmk",
    "ruok",
    "stmk",
    "srst",
    "srvr",
    "stat",
    "wchc",
    "wchp",
    "wchs",
    "mntr",
    "isro",
    "telnet close",
    "hash",
];

/// Which four-letter words the client port answers.
///
/// Java 3.8: without `4lw.commands.whitelist` only `srvr` is enabled (`zkServer.sh status`
/// needs it), plus `isro` when the system property `readonlymode.enabled` is `true`. The
/// value is a comma-separated list; an entry `*` enables every known command. `srvr` is
/// always enabled, whatever the list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every command in [`KNOWN_FOUR_LETTER_WORDS`].
    All,
    /// Exactly these (always including `srvr`).
    Only(BTreeSet<String>),
}

impl FourLetterWhitelist {
    /// Java's default: `srvr` only.
    pub fn java_default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from(["srvr".to_string()]))
    }

    /// Parses the value of `4lw.commands.whitelist`. Returns warnings for entries that are
    /// not four-letter words Java knows (Java accepts and ignores them silently).
    pub fn parse(value: &str) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut words = BTreeSet::new();
        for entry in value.split(',') {
            let entry = java_trim(entry);
            if entry == "*" {
                return (FourLetterWhitelist::All, warnings);
            }
            if entry.is_empty() {
                continue;
            }
            if !KNOWN_FOUR_LETTER_WORDS.contains(&entry) {
                warnings.push(format!(
                    "4lw.commands.whitelist: \"{entry}\" is not a four letter word command"
                ));
            }
            words.insert(entry.to_string());
        }
        words.insert("srvr".to_string());
        (FourLetterWhitelist::Only(words), warnings)
    }

    /// Whether the command `word` (for example `"ruok"`) may be executed: it must be one of
    /// [`KNOWN_FOUR_LETTER_WORDS`] (case matters) and on the list.
    pub fn is_enabled(&self, word: &str) -> bool {
        KNOWN_FOUR_LETTER_WORDS.contains(&word)
            && match self {
                FourLetterWhitelist::All => true,
                FourLetterWhitelist::Only(words) => words.contains(word),
            }
    }

    pub(super) fn add(&mut self, word: &str) {
        if let FourLetterWhitelist::Only(words) = self {
            words.insert(word.to_string());
        }
    }
}
