//! Golden vectors against ZooKeeper's own Java classes (Debian's `zookeeper-jute.jar`).
//!
//! `jute/golden/Golden.java` builds the same deterministic sample values as
//! `jute::codec::SampleGen` by reflection and serializes them with Java's
//! `BinaryOutputArchive`. For every record of `jute::visit_all_records` and seeds 0..8 we check
//! that our encoding is byte for byte Java's, that we decode Java's bytes back to the sample
//! using all of them, and that Java's `check` mode accepts our encodings (deserializes them to
//! its own sample and re-serializes them to the same bytes).
//!
//! The vectors are also committed in `jute/golden/vectors.txt`, so `committed_vectors_match`
//! runs without Java; `java_golden_vectors` fails if that file is stale (rewrite it with
//! `JUTE_GOLDEN_BLESS=1 cargo test -p jute --test golden`).
//!
//! Java is required: when javac, java or the jars are missing the test fails and says what
//! to install.

use bytes::Bytes;
use jute::codec::{Record, RecordVisitor, Sample, SampleGen};
use jute::{Decode, Encode};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SEEDS: std::ops::Range<i64> = 0..8;
const JARS: [&str; 2] = [
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/zookeeper.jar",
];
const INSTALL: &str = "install a JDK and Debian's ZooKeeper 3.8: \
     `apt-get update && apt-get install -y default-jdk-headless zookeeper`";

/// One record type, type-erased.
struct Entry {
    name: &'static str,
    /// Our encoding of `R::sample(SampleGen::new(seed))`.
    encode: fn(i64) -> Vec<u8>,
    /// Decode `bytes` (which must all be used) and compare with the sample of `seed`.
    decode_check: fn(i64, &[u8]) -> Result<(), String>,
}

fn encode_sample<R: Record + Sample>(seed: i64) -> Vec<u8> {
    R::sample(&mut SampleGen::new(seed)).to_bytes().to_vec()
}

fn decode_check<R: Record + Sample>(seed: i64, bytes: &[u8]) -> Result<(), String> {
    let want = R::sample(&mut SampleGen::new(seed));
    match R::from_bytes_exact(Bytes::copy_from_slice(bytes)) {
        Ok(got) if got == want => Ok(()),
        Ok(got) => Err(format!("decoded {got:?}, sample is {want:?}")),
        Err(e) => Err(format!("decode error: {e}")),
    }
}

struct Collect(Vec<Entry>);

impl RecordVisitor for Collect {
    fn visit<R: Record + Sample>(&mut self) {
        self.0.push(Entry {
            name: R::JAVA_NAME,
            encode: encode_sample::<R>,
            decode_check: decode_check::<R>,
        });
    }
}

fn entries() -> Vec<Entry> {
    let mut c = Collect(Vec::new());
    jute::visit_all_records(&mut c);
    let names: BTreeSet<_> = c.0.iter().map(|e| e.name).collect();
    assert_eq!(names.len(), c.0.len(), "a Java name is used by two records");
    c.0
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// `ClassName seed hex` lines, keyed by (name, seed).
fn parse_vectors(text: &str) -> BTreeMap<(String, i64), Vec<u8>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 3, "bad vector line: {line}");
        let key = (f[0].to_string(), f[1].parse().expect("seed"));
        assert!(
            out.insert(key, unhex(f[2])).is_none(),
            "duplicate line: {line}"
        );
    }
    out
}

fn vectors_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/vectors.txt")
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// Compare our encodings and decodings with `vectors`; every (record, seed) must be present.
fn compare(entries: &[Entry], vectors: &BTreeMap<(String, i64), Vec<u8>>) -> Vec<String> {
    let mut failures = Vec::new();
    for e in entries {
        for seed in SEEDS {
            let Some(java) = vectors.get(&(e.name.to_string(), seed)) else {
                failures.push(format!("{} seed {seed}: no Java vector", e.name));
                continue;
            };
            let ours = (e.encode)(seed);
            if &ours != java {
                failures.push(format!(
                    "{} seed {seed}: encoding differs at byte {}\n  ours {}\n  java {}",
                    e.name,
                    first_difference(&ours, java),
                    hex(&ours),
                    hex(java)
                ));
            }
            if let Err(m) = (e.decode_check)(seed, java) {
                failures.push(format!("{} seed {seed}: Java's bytes: {m}", e.name));
            }
        }
    }
    failures
}

fn require_tool(tool: &str) {
    match Command::new(tool).arg("-version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`{tool} -version` failed ({}): {}\n{INSTALL}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run `{tool}` ({e}); {INSTALL}"),
    }
}

struct Java {
    classes: PathBuf,
}

impl Java {
    /// Check the prerequisites and compile Golden.java into a fresh directory.
    fn setup(name: &str) -> Java {
        require_tool("javac");
        require_tool("java");
        for jar in JARS {
            assert!(Path::new(jar).is_file(), "{jar} is missing; {INSTALL}");
        }
        let classes = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jute-golden-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&classes);
        std::fs::create_dir_all(&classes).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/Golden.java");
        let out = Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg("-cp")
            .arg(JARS.join(":"))
            .arg(&src)
            .output()
            .expect("run javac");
        assert!(
            out.status.success(),
            "javac {} failed:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Java { classes }
    }

    /// Run `Golden args...` with `stdin`; returns (success, stdout, stderr).
    fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let cp = format!("{}:{}", self.classes.display(), JARS.join(":"));
        let mut child = Command::new("java")
            .arg("-cp")
            .arg(cp)
            .arg("Golden")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run java");
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_string();
        let writer = std::thread::spawn(move || {
            input.write_all(stdin.as_bytes()).unwrap();
        });
        let out = child.wait_with_output().expect("wait for java");
        writer.join().unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).expect("utf-8 stdout"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Java {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.classes);
    }
}

#[test]
fn java_golden_vectors() {
    let entries = entries();
    let java = Java::setup("records");

    // 1. Our records are exactly Java's: every concrete Record class of zookeeper-jute.jar.
    let (ok, listed, err) = java.run(&["list"], "");
    assert!(ok, "Golden list failed: {err}");
    let java_names: BTreeSet<&str> = listed.lines().collect();
    let our_names: BTreeSet<&str> = entries.iter().map(|e| e.name).collect();
    assert!(
        java_names.len() >= 60,
        "Java listed only {} records",
        java_names.len()
    );
    assert_eq!(
        our_names,
        java_names,
        "record sets differ: only ours {:?}, only Java's {:?}",
        our_names.difference(&java_names).collect::<Vec<_>>(),
        java_names.difference(&our_names).collect::<Vec<_>>()
    );

    // 2. Java's encodings of the samples.
    let names: String = entries.iter().map(|e| format!("{}\n", e.name)).collect();
    let (from, to) = (SEEDS.start.to_string(), SEEDS.end.to_string());
    let (ok, generated, err) = java.run(&["gen", &from, &to], &names);
    assert!(ok, "Golden gen failed: {err}");
    let vectors = parse_vectors(&generated);
    assert_eq!(vectors.len(), entries.len() * SEEDS.count());

    // 3. Ours equal Java's, and Java's decode to the samples.
    let failures = compare(&entries, &vectors);
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // 4. Java accepts our encodings.
    let mut ours = String::new();
    for e in &entries {
        for seed in SEEDS {
            ours.push_str(&format!("{} {seed} {}\n", e.name, hex(&(e.encode)(seed))));
        }
    }
    let (ok, out, err) = java.run(&["check"], &ours);
    assert!(ok, "Java rejected our encodings:\n{out}{err}");
    assert!(
        err.contains(&format!("checked {} lines, 0 mismatches", vectors.len())),
        "unexpected check summary: {err}"
    );

    // 5. The check mode does catch bad input: a trailing byte, a non-canonical boolean (Java
    //    reads 2 as true and writes 1), a truncated record and a value that is not the sample.
    let stat = "org.apache.zookeeper.data.Stat";
    let get_data = "org.apache.zookeeper.proto.GetDataRequest";
    let stat0 = hex(&vectors[&(stat.to_string(), 0)]);
    let mut gd = vectors[&(get_data.to_string(), 1)].clone();
    *gd.last_mut().unwrap() = 2;
    let bad = [
        format!("{stat} 0 {stat0}00"),
        format!("{get_data} 1 {}", hex(&gd)),
        format!("{stat} 0 {}", &stat0[..stat0.len() - 2]),
        format!("{stat} 1 {stat0}"),
    ];
    let (ok, out, err) = java.run(&["check"], &(bad.join("\n") + "\n"));
    assert!(!ok, "Java's check accepted bad input:\n{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("MISMATCH")).count(),
        bad.len(),
        "expected one MISMATCH per bad line:\n{out}{err}"
    );

    // 6. The committed copy is current.
    if std::env::var_os("JUTE_GOLDEN_BLESS").is_some() {
        std::fs::write(vectors_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(vectors_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale; rewrite it with JUTE_GOLDEN_BLESS=1 cargo test -p jute --test golden",
        vectors_path().display()
    );
}

/// Our ustring decoding (including the replacement of malformed UTF-8, which Java does with
/// `new String(bytes, UTF_8)`) and re-encoding give Java's UTF-16 code units and bytes, for
/// tricky hand-picked byte strings and many pseudo-random ones.
#[test]
fn java_string_decoding() {
    let mut corpus: Vec<Vec<u8>> = [
        &b""[..],
        b"/zk",
        "é/ü€".as_bytes(),
        "\u{1F600}".as_bytes(),
        &[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], // U+1F600 as Java writes it (CESU-8)
        &[0xed, 0xa0],
        &[0xed, 0xa0, 0x41],
        &[0xed, 0x9f, 0xbf],
        &[0xe0, 0x80, 0x80],
        &[0xe0, 0xa0],
        &[0xe2, 0x82],
        &[0xe2, 0x82, 0x41],
        &[0xc0, 0x80],
        &[0xc2],
        &[0xf0, 0x80, 0x80, 0x80],
        &[0xf0, 0x90, 0x80],
        &[0xf0, 0x90, 0x80, 0x41],
        &[0xf0, 0x90, 0x41],
        &[0xf4, 0x8f, 0xbf, 0xbf],
        &[0xf4, 0x90, 0x80, 0x80],
        &[0xf5, 0x80],
        &[0xf8, 0x88, 0x80, 0x80, 0x80],
        &[0xff, 0xfe, 0x41],
        &[0x80, 0xbf],
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    // Pseudo-random strings over bytes that matter to UTF-8 decoders (xorshift, fixed seed).
    const ALPHABET: [u8; 24] = [
        0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1,
        0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xf8, 0xff,
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000 {
        let len = (next() % 12) as usize;
        corpus.push(
            (0..len)
                .map(|_| {
                    let r = next();
                    if i % 4 == 0 {
                        r as u8
                    } else {
                        ALPHABET[(r % ALPHABET.len() as u64) as usize]
                    }
                })
                .collect(),
        );
    }

    let java = Java::setup("strings");
    let input: String = corpus
        .iter()
        .map(|b| {
            if b.is_empty() {
                "-\n".into()
            } else {
                hex(b) + "\n"
            }
        })
        .collect();
    let (ok, out, err) = java.run(&["strings"], &input);
    assert!(ok, "Golden strings failed: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), corpus.len());
    let mut failures = Vec::new();
    for (b, line) in corpus.iter().zip(&lines) {
        let mut framed = (b.len() as i32).to_be_bytes().to_vec();
        framed.extend_from_slice(b);
        let s = String::from_bytes_exact(Bytes::from(framed)).expect("any bytes decode");
        let units: String = s.encode_utf16().map(|u| format!("{u:04x}")).collect();
        let re = hex(&s.to_bytes()[4..]);
        let ours = format!(
            "{} {}",
            if units.is_empty() { "-" } else { &units },
            if re.is_empty() { "-" } else { &re }
        );
        if ours != *line {
            failures.push(format!("bytes {}: ours {ours}, java {line}", hex(b)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} strings decode differently from Java (units re-encoding):\n{}",
        failures.len(),
        corpus.len(),
        failures[..failures.len().min(30)].join("\n")
    );
}

/// The committed Java vectors, checked without running Java.
#[test]
fn committed_vectors_match() {
    let entries = entries();
    let text = std::fs::read_to_string(vectors_path()).expect("read golden/vectors.txt");
    let vectors = parse_vectors(&text);
    assert_eq!(vectors.len(), entries.len() * SEEDS.count());
    let failures = compare(&entries, &vectors);
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
