//! Bridges the pipeline's state to the four-letter-word renderer.
//! (Interim: ruok and isro only, until the renderer lands.)

use crate::core::Core;

pub fn respond(core: &mut Core, cmd: &str) -> String {
    if !core.cfg.four_letter_whitelist.is_enabled(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    match cmd {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        _ => String::new(),
    }
}

/// The command a connection's first four bytes spell, if any.
pub fn command_from_bytes(b: [u8; 4]) -> Option<&'static str> {
    const WORDS: &[&str] = &[
        "ruok", "srvr", "stat", "conf", "cons", "crst", "srst", "dump", "envi", "mntr", "wchs",
        "wchc", "wchp", "isro", "dirs", "gtmk", "stmk", "hash",
    ];
    WORDS.iter().copied().find(|w| w.as_bytes() == b)
}
