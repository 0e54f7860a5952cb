//! The files a member with `reconfigEnabled` keeps, as Java's `QuorumPeerConfig` writes them:
//!
//! - `<zoo.cfg>.bak`: a byte copy of the static file, made at startup when it still holds
//!   the `server.N` lines (`backupOldConfig`).
//! - `<zoo.cfg>.dynamic.<hex version>`: the members of an adopted config
//!   (`writeDynamicConfig`): `server.N=...` lines sorted as strings, joined by `\n`, no
//!   trailing newline, no `version`.
//! - `<zoo.cfg>` rewritten (`editStaticConfig`): every entry but `server.*`, `group*`,
//!   `weight*`, `dynamicConfigFile*`, `peerType*` (and `clientPort*` when this member's
//!   `server.N` line carries its client address) as `key=value\n` in the iteration order of
//!   the `java.util.Properties` Java loaded it into (a `ConcurrentHashMap` since Java 9), then
//!   `dynamicConfigFile=<canonical path>\n`.
//!
//! Both are written as Java's `AtomicFileWritingIdiom` does: to `<name>.tmp`, then renamed.
//! The text is made by pure functions; [`adopt`] and [`backup_static`] do the IO.

use super::properties::{parse_properties, read_text};
use super::ConfigError;
use std::path::{Path, PathBuf};
use zk_quorum::verifier::QuorumMaj;

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The iteration order of a `java.util.Properties` (JDK 9+: a `ConcurrentHashMap` made with
/// capacity 8, so a table of 16) into which `keys` (distinct) were put in this order:
/// indexes into `keys`. Reproduces the table's growth at 3/4 full and the way a resize
/// splits a bin (the tail that stays together keeps its order, the nodes before it are
/// prepended one by one). Bins long enough to become trees (8 keys) are not modelled.
pub fn properties_order(keys: &[&str]) -> Vec<usize> {
    let spread = |k: &str| {
        let h = java_string_hash(k);
        (h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff
    };
    let hashes: Vec<i32> = keys.iter().map(|k| spread(k)).collect();
    let mut table: Vec<Vec<usize>> = vec![Vec::new(); 16];
    for (i, h) in hashes.iter().enumerate() {
        let n = table.len();
        table[(*h as usize) & (n - 1)].push(i);
        if i + 1 >= n - n / 4 {
            table = resize(&table, &hashes);
        }
    }
    table.into_iter().flatten().collect()
}

/// `ConcurrentHashMap.transfer` of list bins to a table twice as large.
fn resize(table: &[Vec<usize>], hashes: &[i32]) -> Vec<Vec<usize>> {
    let n = table.len();
    let mut next = vec![Vec::new(); n * 2];
    for (i, bin) in table.iter().enumerate() {
        let Some(&last) = bin.last() else { continue };
        let high = |k: usize| (hashes[k] as usize) & n != 0;
        // The longest tail whose nodes all go the same way.
        let run_bit = high(last);
        let mut run_start = bin.len() - 1;
        while run_start > 0 && high(bin[run_start - 1]) == run_bit {
            run_start -= 1;
        }
        let (mut low, mut hi): (Vec<usize>, Vec<usize>) = if run_bit {
            (Vec::new(), bin[run_start..].to_vec())
        } else {
            (bin[run_start..].to_vec(), Vec::new())
        };
        for &k in &bin[..run_start] {
            if high(k) {
                hi.insert(0, k);
            } else {
                low.insert(0, k);
            }
        }
        next[i] = low;
        next[i + n] = hi;
    }
    next
}

/// Java's `String.trim`.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// The text of `<zoo.cfg>.dynamic.<version>` for `view` (`writeDynamicConfig` with
/// `needKeepVersion`: false for the adopted config, true for `.dynamic.next`).
pub fn dynamic_file_text(view: &QuorumMaj, keep_version: bool) -> String {
    let text = view.to_java_string();
    let mut lines: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| keep_version || !java_trim(k).starts_with("version"))
        .map(|(k, v)| format!("{}={}", java_trim(k), java_trim(v)))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The static `zoo.cfg` text Java's `editStaticConfig` writes from `text`, pointing at
/// `dynamic_path` (canonical); `erase_client` drops `clientPort*` keys too.
pub fn static_file_text(
    text: &str,
    dynamic_path: &str,
    erase_client: bool,
) -> Result<String, ConfigError> {
    // Properties: the first put of a key fixes its place, the last its value.
    let mut entries: Vec<(String, String)> = Vec::new();
    for e in parse_properties(text)? {
        match entries.iter_mut().find(|(k, _)| *k == e.key) {
            Some(slot) => slot.1 = e.value,
            None => entries.push((e.key, e.value)),
        }
    }
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = String::new();
    for i in properties_order(&keys) {
        let key = java_trim(&entries[i].0);
        let dropped = [
            "server.",
            "group",
            "weight",
            "dynamicConfigFile",
            "peerType",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || (erase_client && key.starts_with("clientPort"));
        if !dropped {
            out.push_str(&format!("{key}={}\n", java_trim(&entries[i].1)));
        }
    }
    out.push_str(&format!("dynamicConfigFile={dynamic_path}\n"));
    Ok(out)
}

/// `<config_file><suffix>`.
fn sibling(config_file: &Path, suffix: &str) -> PathBuf {
    let mut name = config_file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `path` as Java's `AtomicFileWritingIdiom`: `<path>.tmp`, synced, renamed; on a
/// failure (a full disk) `path` is untouched and the tmp file removed, as Java's `abort`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = sibling(path, ".tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `backupOldConfig`: copy `config_file` to `<config_file>.bak`.
pub fn backup_static(config_file: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(config_file)?;
    write_atomically(&sibling(config_file, ".bak"), &bytes)
}

/// `QuorumPeer.setQuorumVerifier(qv, true)` on disk: write `<config_file>.dynamic.<hex>`
/// for `view`, then point `config_file` at it; `erase_client` as in [`static_file_text`].
/// Returns the dynamic file's path.
pub fn adopt(config_file: &Path, view: &QuorumMaj, erase_client: bool) -> Result<PathBuf, String> {
    let dynamic = sibling(config_file, &format!(".dynamic.{:x}", view.version()));
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    write_atomically(&dynamic, dynamic_file_text(view, false).as_bytes())
        .map_err(|e| io("cannot write", &dynamic, e))?;
    let canonical =
        std::fs::canonicalize(&dynamic).map_err(|e| io("cannot resolve", &dynamic, e))?;
    let text = read_text(config_file).map_err(|e| e.to_string())?;
    let edited = static_file_text(&text, &canonical.to_string_lossy(), erase_client)
        .map_err(|e| e.to_string())?;
    write_atomically(config_file, edited.as_bytes())
        .map_err(|e| io("cannot write", config_file, e))?;
    Ok(dynamic)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Java 3.8.0 on JDK 17 wrote for a zkharness ensemble member's zoo.cfg.
    #[test]
    fn static_file_as_java_writes_it() {
        let cfg = "tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/rcx/java/node-1/data\n\
                   clientPort=44059\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
                   admin.enableServer=false\nextendedTypesEnabled=true\n\
                   server.1=127.0.0.1:50455:58251\nserver.2=127.0.0.1:36687:41411\n\
                   server.3=127.0.0.1:35775:42845\nreconfigEnabled=true\n\
                   DigestAuthenticationProvider.superDigest=super:d75E88nyq/6stryNHnoUi/OvUo4=\n";
        let want = "dataDir=/tmp/rcx/java/node-1/data\n4lw.commands.whitelist=*\nsyncLimit=5\n\
                    DigestAuthenticationProvider.superDigest=super:d75E88nyq/6stryNHnoUi/OvUo4=\n\
                    reconfigEnabled=true\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
                    clientPort=44059\ninitLimit=10\ntickTime=1000\nextendedTypesEnabled=true\n\
                    dynamicConfigFile=/tmp/rcx/java/node-1/zoo.cfg.dynamic.100000000\n";
        let got =
            static_file_text(cfg, "/tmp/rcx/java/node-1/zoo.cfg.dynamic.100000000", false).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn dynamic_file_sorted_without_version() {
        let view = QuorumMaj::parse_java_string(
            "server.2=127.0.0.1:2:3:participant\nserver.10=127.0.0.1:4:5:observer;127.0.0.1:6\n\
             server.1=127.0.0.1:7:8:participant\nversion=100000000",
        )
        .unwrap();
        assert_eq!(
            dynamic_file_text(&view, false),
            // String order, as Java's Collections.sort: '0' sorts before '='.
            "server.10=127.0.0.1:4:5:observer;127.0.0.1:6\nserver.1=127.0.0.1:7:8:participant\n\
             server.2=127.0.0.1:2:3:participant"
        );
        assert!(dynamic_file_text(&view, true).ends_with("\nversion=100000000"));
    }

    /// A write that cannot finish leaves the old file and no tmp file (the rename fails
    /// here: the target is a non-empty directory; a full disk fails the write instead).
    #[test]
    fn a_failed_write_keeps_the_old_file_and_no_tmp() {
        let dir = std::env::temp_dir().join(format!("zkrs-atomic-{}", std::process::id()));
        let target = dir.join("zoo.cfg.dynamic.1");
        std::fs::create_dir_all(target.join("x")).unwrap();
        assert!(write_atomically(&target, b"server.1=a:1:2").is_err());
        assert!(target.is_dir());
        assert!(!sibling(&target, ".tmp").exists());
        let ok = dir.join("zoo.cfg");
        write_atomically(&ok, b"a=b\n").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"a=b\n");
        assert!(!sibling(&ok, ".tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn growth_keeps_every_key_once() {
        let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut order = properties_order(&refs);
        order.sort();
        assert_eq!(order, (0..40).collect::<Vec<_>>());
    }
}
