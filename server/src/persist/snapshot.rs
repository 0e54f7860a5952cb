//! Snapshots, in Java's `FileSnap` / `SnapStream` format.
//!
//! `snapshot.<hex zxid>` in `<dataDir>/version-2/` (`.gz` / `.snappy` when compressed: the
//! extension, not the configuration, tells a reader which). The (uncompressed) stream is
//!
//! ```text
//! FileHeader{int magic "ZKSN", int version 2, long dbid -1}
//! int count, then count x {long sessionId, int timeout}
//! int count, then count x {long aclId, vector<ACL>}          (ReferenceCountedACLCache)
//! nodes, parents before children, each: ustring path ("" for the root), buffer data,
//!     long aclId (-1 = OPEN_ACL_UNSAFE), StatPersisted
//! ustring "/"                                                 (end of nodes)
//! long Adler32 of every byte so far, ustring "/"              (SnapStream.sealStream)
//! ZxidDigest{long zxid, int digestVersion, long digest}       (when digests are enabled)
//! long Adler32 of every byte so far, ustring "/"              (sealed again)
//! long lastProcessedZxid                                      (Java 3.9 only)
//! long Adler32 of every byte so far, ustring "/"              (sealed a third time)
//! ```
//!
//! The checksum covers the uncompressed bytes. An older snapshot may end after the first seal
//! (no digest); a reader takes end of input there as "no digest", as Java does. A digest with
//! version < 2 stores the digest as a hex string.
//!
//! Java 3.9 (`FileSnap.serialize`, `DataTree.serializeLastProcessedZxid`, on unless
//! `zookeeper.serializeLastProcessedZxid.enabled=false`) appends `lastProcessedZxid`, sealed;
//! with digests disabled it follows the first seal directly. Java 3.8 writes no such section
//! and stops reading after the digest's seal, so it reads a 3.9 snapshot (and 3.9 reads a 3.8
//! one: end of input where the section would start means "none"). We read both formats in
//! every mode, and write the section when [`SnapshotOptions::last_processed_zxid`] says so
//! (`compat.version=3.9`). A section whose seal does not match makes the file corrupt, as in
//! Java. The value is informational: Java's `FileSnap.deserialize` goes on from the file
//! name's zxid, and so do we. The SNAP sync stream carries neither seal nor this section, in
//! 3.8 and 3.9 alike (`LearnerHandler` sends `ZKDatabase.serializeSnapshot`).
//!
//! Compression (`zookeeper.snapshot.compression.method`): none (default), `gz` (gzip, read
//! with multi-member support, written at the default level), `snappy` (snappy-java's
//! `SnappyOutputStream` framing: 8-byte magic `\x82SNAPPY\0`, int version 1, int compatible
//! version 1, then blocks of {int length, raw snappy block} of up to 32 KiB uncompressed).
//!
//! ACL ids: we number the distinct ACL lists in use 1..n when writing; a reader resolves the
//! ids of the file it reads (Java reads any ids; equal lists share an id in ours).

use super::digest::{node_digest, DIGEST_VERSION};
use super::{Adler32, Error, IoContext, Result, SNAPSHOT_PREFIX, SNAP_MAGIC};
use crate::tree::{open_acl, DataTree};
use bytes::{Bytes, BytesMut};
use jute::data::{Acl, StatPersisted};
use jute::persistence::FileHeader;
use jute::{Decode, Encode};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// How a snapshot file is compressed (`SnapStream.StreamMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
}

impl Compression {
    /// Java's `StreamMode.fromString`: "gz", "snappy" (any case), anything else is none.
    pub fn from_name(name: &str) -> Compression {
        if name.eq_ignore_ascii_case("gz") {
            Compression::Gzip
        } else if name.eq_ignore_ascii_case("snappy") {
            Compression::Snappy
        } else {
            Compression::None
        }
    }

    /// Java's `SnapStream.getStreamMode(fileName)`: from the last dot-separated part.
    pub fn from_file_name(name: &str) -> Compression {
        match name.rsplit_once('.') {
            Some((_, ext)) => Compression::from_name(ext),
            None => Compression::None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }
}

/// `DataTree.ZxidDigest`: the tree digest after txn `zxid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub version: i32,
    pub digest: i64,
}

/// Options of `write_snapshot`.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    pub compression: Compression,
    /// Append the ZxidDigest section (`zookeeper.digest.enabled`, default true).
    pub digest: bool,
    /// Append the lastProcessedZxid section (Java 3.9's format; Java 3.8 writes none).
    pub last_processed_zxid: bool,
    /// fsync the file and its folder before returning.
    pub fsync: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            compression: Compression::None,
            digest: true,
            last_processed_zxid: true,
            fsync: true,
        }
    }
}

/// A writer that keeps the Adler32 of what passes through (`CheckedOutputStream`).
struct Checked<W> {
    inner: W,
    sum: Adler32,
}

impl<W: Write> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What `serialize` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub nodes: u64,
    /// The tree digest computed while writing (also when the section was not written).
    pub digest: i64,
}

/// The optional sections after the node list's seal, each sealed in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// The ZxidDigest (`zookeeper.digest.enabled`).
    pub digest: bool,
    /// lastProcessedZxid (Java 3.9).
    pub last_processed_zxid: bool,
}

impl SnapshotOptions {
    pub fn sections(&self) -> Sections {
        Sections {
            digest: self.digest,
            last_processed_zxid: self.last_processed_zxid,
        }
    }
}

/// Serialize `tree` as the uncompressed snapshot stream of txn `zxid` in Java 3.8's format
/// (with the digest section when `with_digest`). See [`serialize_sections`].
pub fn serialize<W: Write>(
    tree: &DataTree,
    zxid: i64,
    with_digest: bool,
    out: W,
) -> io::Result<Written> {
    let sections = Sections {
        digest: with_digest,
        last_processed_zxid: false,
    };
    serialize_sections(tree, zxid, sections, out)
}

/// Serialize `tree` as the uncompressed snapshot stream of txn `zxid` (the tree must reflect
/// exactly the txns up to `zxid`: the digest and lastProcessedZxid sections say so).
pub fn serialize_sections<W: Write>(
    tree: &DataTree,
    zxid: i64,
    sections: Sections,
    out: W,
) -> io::Result<Written> {
    let mut out = Checked {
        inner: out,
        sum: Adler32::new(),
    };
    let mut b = BytesMut::with_capacity(128 * 1024);
    FileHeader {
        magic: SNAP_MAGIC,
        version: super::FORMAT_VERSION,
        dbid: -1,
    }
    .encode(&mut b);
    (tree.sessions.len() as i32).encode(&mut b);
    for (id, timeout) in &tree.sessions {
        id.encode(&mut b);
        timeout.encode(&mut b);
    }
    let mut written = Written {
        nodes: 0,
        digest: 0,
    };
    let (lists, number) = tree.numbered_acls();
    // The ACL cache: the distinct lists in use, numbered 1...
    (lists.len() as i32).encode(&mut b);
    for (i, l) in lists.iter().enumerate() {
        let l: &Vec<Acl> = l;
        (i as i64 + 1).encode(&mut b);
        l.encode(&mut b);
    }
    tree.for_each_node(|path, n| {
        encode_path(path, &mut b);
        match *n.data {
            None => (-1i32).encode(&mut b),
            Some(d) => {
                (d.len() as i32).encode(&mut b);
                b.extend_from_slice(d);
            }
        }
        number(n).encode(&mut b);
        n.stat.encode(&mut b);
        written.nodes += 1;
        written.digest = written
            .digest
            .wrapping_add(node_digest(path, *n.data, &n.stat));
        if b.len() >= 64 * 1024 {
            out.write_all(&b)?;
            b.clear();
        }
        Ok::<(), io::Error>(())
    })?;
    "/".to_string().encode(&mut b);
    out.write_all(&b)?;
    b.clear();
    seal(&mut out)?;
    if sections.digest {
        let d = ZxidDigest {
            zxid,
            version: DIGEST_VERSION,
            digest: written.digest,
        };
        d.zxid.encode(&mut b);
        d.version.encode(&mut b);
        d.digest.encode(&mut b);
        out.write_all(&b)?;
        b.clear();
        seal(&mut out)?;
    }
    if sections.last_processed_zxid {
        // Java writes `DataTree.lastProcessedZxid`: ours is a consistent copy at `zxid`.
        zxid.encode(&mut b);
        out.write_all(&b)?;
        seal(&mut out)?;
    }
    out.flush()?;
    Ok(written)
}

/// A path as jute writes a `ustring` (Java's UTF-8, which writes a character above U+FFFF as
/// two 3-byte surrogates).
fn encode_path(path: &str, b: &mut BytesMut) {
    if path.bytes().all(|c| c < 0xF0) {
        (path.len() as i32).encode(b);
        b.extend_from_slice(path.as_bytes());
    } else {
        path.to_string().encode(b);
    }
}

fn seal<W: Write>(out: &mut Checked<W>) -> io::Result<()> {
    let v = out.sum.value();
    let mut b = BytesMut::with_capacity(13);
    v.encode(&mut b);
    "/".to_string().encode(&mut b);
    out.write_all(&b)
}

/// Write `snapshot.<zxid>[ext]` into `snap_dir` (`<dataDir>/version-2`): to
/// `snapshot.<zxid>[ext].tmp` first, then renamed (and fsync'd, file and folder, with
/// `opts.fsync`). Returns the path written.
pub fn write_snapshot(
    tree: &DataTree,
    snap_dir: &Path,
    zxid: i64,
    opts: &SnapshotOptions,
) -> Result<PathBuf> {
    std::fs::create_dir_all(snap_dir).at(snap_dir)?;
    let name = super::snapshot_name(zxid, opts.compression);
    let path = snap_dir.join(&name);
    let tmp = snap_dir.join(format!("{name}.tmp"));
    let res = (|| -> io::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let file = match opts.compression {
            Compression::None => {
                let mut w = BufWriter::with_capacity(256 * 1024, file);
                serialize_sections(tree, zxid, opts.sections(), &mut w)?;
                w.into_inner().map_err(|e| e.into_error())?
            }
            Compression::Gzip => {
                let mut w = flate2::write::GzEncoder::new(
                    BufWriter::new(file),
                    flate2::Compression::default(),
                );
                serialize_sections(tree, zxid, opts.sections(), &mut w)?;
                w.finish()?.into_inner().map_err(|e| e.into_error())?
            }
            Compression::Snappy => {
                let mut w = SnappyJavaWriter::new(BufWriter::new(file));
                serialize_sections(tree, zxid, opts.sections(), &mut w)?;
                w.finish()?.into_inner().map_err(|e| e.into_error())?
            }
        };
        if opts.fsync {
            file.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).at(&tmp);
    }
    std::fs::rename(&tmp, &path).at(&path)?;
    if opts.fsync {
        super::sync_dir(snap_dir)?;
    }
    Ok(path)
}

/// One item of a snapshot, in file order: the SNAP stream's items, with the node path
/// borrowed from the reader's buffer.
pub type SnapItem<'a> = zk_quorum::zab::snap_stream::SnapItem<&'a str>;

/// What follows the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    pub header: FileHeader,
    /// `None` for a snapshot written without digest (or digests disabled).
    pub digest: Option<ZxidDigest>,
    /// Java 3.9's lastProcessedZxid section; `None` in Java 3.8's format.
    pub last_processed_zxid: Option<i64>,
}

/// A node record as parsed, borrowing the parser's buffer.
struct RawNode<'a> {
    path: std::borrow::Cow<'a, str>,
    data: Option<&'a [u8]>,
    acl: i64,
    stat: StatPersisted,
}

/// A buffered reader of the snapshot stream that keeps the Adler32 of what it consumed
/// (`CheckedInputStream`). Records are parsed in place from a large buffer; the checksum is
/// updated in big slices.
struct Parser<R> {
    input: R,
    buf: Vec<u8>,
    /// Consumed up to here.
    pos: usize,
    /// Valid bytes end here.
    end: usize,
    /// The checksum covers `buf[..summed]` (and everything before the buffer).
    summed: usize,
    sum: Adler32,
}

const PARSE_BUF: usize = 1 << 20;

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

fn stat_from(b: &[u8]) -> StatPersisted {
    StatPersisted {
        czxid: be_i64(&b[0..]),
        mzxid: be_i64(&b[8..]),
        ctime: be_i64(&b[16..]),
        mtime: be_i64(&b[24..]),
        version: be_i32(&b[32..]),
        cversion: be_i32(&b[36..]),
        aversion: be_i32(&b[40..]),
        ephemeral_owner: be_i64(&b[44..]),
        pzxid: be_i64(&b[52..]),
    }
}

fn bad_data(m: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m)
}

/// A length field: -1 is null; anything else negative or beyond a log entry is refused.
fn check_len(n: i32, what: &str) -> io::Result<Option<usize>> {
    if n == -1 {
        return Ok(None);
    }
    if n < -1 || n as usize > super::txnlog::MAX_ENTRY_LEN {
        return Err(bad_data(format!("unreasonable {what} length {n}")));
    }
    Ok(Some(n as usize))
}

/// Java's decoding of a `ustring` (malformed UTF-8 included), via jute.
fn decode_string(raw: &[u8]) -> io::Result<std::borrow::Cow<'_, str>> {
    match std::str::from_utf8(raw) {
        Ok(s) => Ok(std::borrow::Cow::Borrowed(s)),
        Err(_) => {
            let mut b = BytesMut::with_capacity(raw.len() + 4);
            (raw.len() as i32).encode(&mut b);
            b.extend_from_slice(raw);
            String::decode(&mut b.freeze())
                .map(std::borrow::Cow::Owned)
                .map_err(|e| bad_data(e.to_string()))
        }
    }
}

impl<R: Read> Parser<R> {
    fn new(input: R) -> Self {
        Parser {
            input,
            buf: vec![0; PARSE_BUF],
            pos: 0,
            end: 0,
            summed: 0,
            sum: Adler32::new(),
        }
    }

    /// At least `n` unconsumed bytes in the buffer (EOF: `UnexpectedEof`).
    fn fill(&mut self, n: usize) -> io::Result<()> {
        if self.end - self.pos >= n {
            return Ok(());
        }
        // Keep the checksum of what is about to move out, then move the rest to the front.
        self.sum.update(&self.buf[self.summed..self.pos]);
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.summed = 0;
        while self.end < n {
            if self.end == self.buf.len() {
                // Grow only as data arrives: a damaged length field must fail at the end of
                // the file, not allocate what it claims first.
                self.buf
                    .resize((self.buf.len() * 2).min(n.next_power_of_two()), 0);
            }
            let k = match self.input.read(&mut self.buf[self.end..]) {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if k == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.end += k;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        self.fill(n)?;
        let p = self.pos;
        self.pos += n;
        Ok(&self.buf[p..p + n])
    }

    fn i32(&mut self) -> io::Result<i32> {
        Ok(be_i32(self.take(4)?))
    }

    fn i64(&mut self) -> io::Result<i64> {
        Ok(be_i64(self.take(8)?))
    }

    fn len(&mut self, what: &str) -> io::Result<Option<usize>> {
        let n = self.i32()?;
        check_len(n, what)
    }

    fn string(&mut self) -> io::Result<String> {
        let Some(n) = self.len("string")? else {
            return Ok(String::new());
        };
        Ok(decode_string(self.take(n)?)?.into_owned())
    }

    fn acl(&mut self) -> io::Result<Acl> {
        let perms = self.i32()?;
        let scheme = self.string()?;
        let id = self.string()?;
        Ok(Acl {
            perms,
            id: jute::data::Id { scheme, id },
        })
    }

    /// The next node record, or `None` at the "/" that ends the node list.
    fn node(&mut self) -> io::Result<Option<RawNode<'_>>> {
        let plen = check_len(self.i32()?, "string")?.unwrap_or(0);
        if plen == 1 {
            self.fill(1)?;
            if self.buf[self.pos] == b'/' {
                // The end of the node list.
                self.pos += 1;
                return Ok(None);
            }
        }
        // The path and the data length, then the data, ACL id and stat.
        self.fill(plen + 4)?;
        let dlen = check_len(be_i32(&self.buf[self.pos + plen..]), "buffer")?;
        let total = plen + 4 + dlen.unwrap_or(0) + 8 + 60;
        self.fill(total)?;
        let p = self.pos;
        self.pos += total;
        let b = &self.buf[p..p + total];
        let d = plen + 4;
        let data = dlen.map(|n| &b[d..d + n]);
        let a = d + dlen.unwrap_or(0);
        Ok(Some(RawNode {
            path: decode_string(&b[..plen])?,
            data,
            acl: be_i64(&b[a..]),
            stat: stat_from(&b[a + 8..]),
        }))
    }

    /// The checksum of everything consumed so far.
    fn value(&mut self) -> i64 {
        self.sum.update(&self.buf[self.summed..self.pos]);
        self.summed = self.pos;
        self.sum.value()
    }

    fn check_seal(&mut self) -> io::Result<()> {
        let want = self.value();
        let got = self.i64()?;
        let _ = self.string()?;
        if got != want {
            return Err(bad_data("CRC corruption".into()));
        }
        Ok(())
    }

    /// Header, sessions and ACL cache.
    fn head(
        &mut self,
        mut f: impl FnMut(SnapItem<'_>) -> std::result::Result<(), String>,
    ) -> io::Result<FileHeader> {
        let b = self.take(16)?;
        let header = FileHeader {
            magic: be_i32(b),
            version: be_i32(&b[4..]),
            dbid: be_i64(&b[8..]),
        };
        if header.magic != SNAP_MAGIC {
            return Err(bad_data(format!(
                "mismatching magic headers {} != {}",
                header.magic, SNAP_MAGIC
            )));
        }
        let count = self.i32()?;
        for _ in 0..count.max(0) {
            let id = self.i64()?;
            let timeout = self.i32()?;
            f(SnapItem::Session { id, timeout }).map_err(bad_data)?;
        }
        let count = self.i32()?;
        for _ in 0..count.max(0) {
            let id = self.i64()?;
            let n = self
                .len("acl vector")?
                .ok_or_else(|| bad_data("missing acls".into()))?;
            let mut acl = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                acl.push(self.acl()?);
            }
            f(SnapItem::Acl { id, acl }).map_err(bad_data)?;
        }
        Ok(header)
    }

    /// What follows the node list: the seal, then the optional digest and its seal, then the
    /// optional lastProcessedZxid and its seal. End of input where a section would start
    /// means it is absent (`DataTree.deserializeZxidDigest` / `deserializeLastProcessedZxid`);
    /// end of input or a mismatch in a seal is corruption (`SnapStream.checkSealIntegrity`).
    fn tail(&mut self, header: FileHeader) -> io::Result<Trailer> {
        self.check_seal()?;
        let mut trailer = Trailer {
            header,
            digest: None,
            last_processed_zxid: None,
        };
        if self.only_last_zxid_follows()? {
            // Java 3.9 with digests disabled. (Java reads this only with digests disabled
            // too; the layout cannot be a digest section, so we need not be told.)
            trailer.last_processed_zxid = Some(self.i64()?);
            self.check_seal()?;
            return Ok(trailer);
        }
        match self.digest() {
            Ok(d) => trailer.digest = Some(d),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(trailer),
            Err(e) => return Err(e),
        }
        self.check_seal()?;
        match self.i64() {
            Ok(z) => trailer.last_processed_zxid = Some(z),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(trailer),
            Err(e) => return Err(e),
        }
        self.check_seal()?;
        Ok(trailer)
    }

    /// Exactly a lastProcessedZxid section is left: a long, then a seal (long, ustring "/"),
    /// 21 bytes, and nothing after them. A digest section and its seal take at least 29.
    fn only_last_zxid_follows(&mut self) -> io::Result<bool> {
        const LEN: usize = 8 + 8 + 4 + 1;
        match self.fill(LEN + 1) {
            Ok(()) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e),
        }
        if self.end - self.pos != LEN {
            return Ok(false);
        }
        let b = &self.buf[self.pos..self.end];
        Ok(b[16..] == [0, 0, 0, 1, b'/'])
    }

    fn digest(&mut self) -> io::Result<ZxidDigest> {
        let zxid = self.i64()?;
        let version = self.i32()?;
        let digest = if version < 2 {
            let s = self.string()?;
            u64::from_str_radix(&s, 16).unwrap_or(0) as i64
        } else {
            self.i64()?
        };
        Ok(ZxidDigest {
            zxid,
            version,
            digest,
        })
    }
}

/// Read a snapshot stream (uncompressed), handing each item to `f`. The checksum seals are
/// verified; `f` may stop the read with an error message.
pub fn read_stream<R: Read>(
    input: R,
    mut f: impl FnMut(SnapItem<'_>) -> std::result::Result<(), String>,
) -> io::Result<Trailer> {
    let mut r = Parser::new(input);
    let header = r.head(&mut f)?;
    while let Some(n) = r.node()? {
        f(SnapItem::Node {
            path: &n.path,
            data: n.data.map(Bytes::copy_from_slice),
            acl: n.acl,
            stat: n.stat,
        })
        .map_err(bad_data)?;
    }
    r.tail(header)
}

/// Open a snapshot file for reading, decompressing by its extension.
pub fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).at(path)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    Ok(match Compression::from_file_name(name) {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
        )),
        Compression::Snappy => Box::new(SnappyJavaReader::new(BufReader::new(file))),
    })
}

/// A snapshot loaded into a tree.
pub struct LoadedSnapshot {
    pub tree: DataTree,
    /// The zxid in the file name: every txn up to it is in the tree (and maybe later ones:
    /// snapshots are fuzzy).
    pub zxid: i64,
    pub trailer: Trailer,
    pub nodes: u64,
    /// The tree digest (sum of the node digests), computed while loading.
    pub digest: i64,
}

/// Load a snapshot file into a fresh tree (`FileSnap.deserialize` of one file).
pub fn load(path: &Path, extended_types: bool) -> Result<LoadedSnapshot> {
    match load_as(path, extended_types, true)? {
        Some(l) => Ok(l),
        // Not in depth-first order, or a path twice: node by node, as Java reads it.
        None => Ok(load_as(path, extended_types, false)?.expect("node by node")),
    }
}

/// `None`: `bulk` was asked for and the file does not allow it.
fn load_as(path: &Path, extended_types: bool, bulk: bool) -> Result<Option<LoadedSnapshot>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let zxid = super::zxid_from_name(name, SNAPSHOT_PREFIX)
        .ok_or_else(|| Error::Invalid(format!("{}: not a snapshot file name", path.display())))?;
    let corrupt = |e: io::Error| Error::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason: if e.kind() == io::ErrorKind::UnexpectedEof {
            "truncated".into()
        } else {
            e.to_string()
        },
    };
    let input = open(path)?;
    let mut tree = DataTree::empty_for_load(extended_types);
    let mut sessions = HashMap::new();
    let mut acls: HashMap<i64, u32> = HashMap::new();
    let mut r = Parser::new(input);
    let mut acl_err = None;
    let header = r
        .head(|item| {
            match item {
                SnapItem::Session { id, timeout } => {
                    sessions.insert(id, timeout);
                }
                SnapItem::Acl { id, acl } => {
                    acls.insert(id, tree.acl_id(&acl));
                }
                SnapItem::Node { .. } => acl_err = Some("node in the header".to_string()),
            }
            Ok(())
        })
        .map_err(corrupt)?;
    if let Some(e) = acl_err {
        return Err(corrupt(bad_data(e)));
    }
    if !bulk {
        // Uncompressed, the file's size bounds the node count: size the index once.
        if Compression::from_file_name(name) == Compression::None {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            tree.reserve((size / 120) as usize);
        }
    }
    let open_list = tree.acl_id(&open_acl());
    let mut nodes = 0u64;
    let mut digest = 0i64;
    let mut warned = false;
    let mut last_acl = (i64::MIN, 0u32);
    while let Some(n) = r.node().map_err(corrupt)? {
        let acl = if n.acl == last_acl.0 {
            last_acl.1
        } else {
            let id = if n.acl == -1 {
                open_list
            } else if let Some(&a) = acls.get(&n.acl) {
                a
            } else {
                // Java keeps the dangling id and fails every later access to the node; we
                // deny all access (an empty ACL) rather than open it up.
                if !warned {
                    tracing::warn!(
                        "snapshot node {} refers to unknown ACL {}; using an empty ACL",
                        n.path,
                        n.acl
                    );
                    warned = true;
                }
                tree.acl_id(&[])
            };
            last_acl = (n.acl, id);
            id
        };
        if bulk {
            if tree.bulk_node(&n.path, n.data, acl, &n.stat).is_err() {
                return Ok(None);
            }
        } else {
            tree.load_node_with(&n.path, n.data, acl, &n.stat)
                .map_err(|e| corrupt(bad_data(e)))?;
        }
        digest = digest.wrapping_add(node_digest(&n.path, n.data, &n.stat));
        nodes += 1;
    }
    if bulk && tree.bulk_finish().is_err() {
        return Ok(None);
    }
    let trailer = r.tail(header).map_err(corrupt)?;
    if tree.node("/").is_none() {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            reason: "no root node".into(),
        });
    }
    tree.finish_load(sessions, zxid);
    tree.purge_unused_acls();
    if tree.node_count() as u64 != nodes {
        // The same path twice: the running sum counted the replaced node too.
        digest = super::digest::tree_digest(&tree);
    }
    Ok(Some(LoadedSnapshot {
        tree,
        zxid,
        trailer,
        nodes,
        digest,
    }))
}

/// Java's `SnapStream.isValidSnapshot`: a snapshot name, and for an uncompressed file at least
/// 10 bytes ending with the sealing "/" (int 1, '/'); for gz/snappy the stream magic.
pub fn is_valid(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if super::zxid_from_name(name, SNAPSHOT_PREFIX).is_none() {
        return false;
    }
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    use std::os::unix::fs::FileExt;
    match Compression::from_file_name(name) {
        Compression::None => {
            if len < 10 {
                return false;
            }
            let mut b = [0u8; 5];
            file.read_exact_at(&mut b, len - 5).is_ok() && b == [0, 0, 0, 1, b'/']
        }
        Compression::Gzip => {
            let mut b = [0u8; 2];
            file.read_exact_at(&mut b, 0).is_ok() && b == [0x1f, 0x8b]
        }
        Compression::Snappy => {
            let mut b = [0u8; 8];
            file.read_exact_at(&mut b, 0).is_ok() && b == SNAPPY_MAGIC
        }
    }
}

/// The snapshot files of a folder, newest first (all names, valid or not).
pub fn list(snap_dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let mut v = super::list_files(snap_dir, SNAPSHOT_PREFIX)?;
    v.reverse();
    Ok(v)
}

/// Up to `n` newest snapshots that pass `is_valid` (`FileSnap.findNValidSnapshots`).
pub fn find_valid(snap_dir: &Path, n: usize) -> Result<Vec<(i64, PathBuf)>> {
    Ok(list(snap_dir)?
        .into_iter()
        .filter(|(_, p)| is_valid(p))
        .take(n)
        .collect())
}

// ---- snappy-java stream framing ----

const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const SNAPPY_BLOCK: usize = 32 * 1024;

/// snappy-java's `SnappyOutputStream`.
pub struct SnappyJavaWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    enc: snap::raw::Encoder,
    started: bool,
}

impl<W: Write> SnappyJavaWriter<W> {
    pub fn new(inner: W) -> Self {
        SnappyJavaWriter {
            inner,
            buf: Vec::with_capacity(SNAPPY_BLOCK),
            enc: snap::raw::Encoder::new(),
            started: false,
        }
    }
    fn header(&mut self) -> io::Result<()> {
        if !self.started {
            self.inner.write_all(&SNAPPY_MAGIC)?;
            self.inner.write_all(&1i32.to_be_bytes())?;
            self.inner.write_all(&1i32.to_be_bytes())?;
            self.started = true;
        }
        Ok(())
    }
    fn block(&mut self) -> io::Result<()> {
        self.header()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        let c = self.enc.compress_vec(&self.buf).map_err(io::Error::other)?;
        self.inner.write_all(&(c.len() as i32).to_be_bytes())?;
        self.inner.write_all(&c)?;
        self.buf.clear();
        Ok(())
    }
    /// Write the last block and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.block()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SnappyJavaWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(SNAPPY_BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == SNAPPY_BLOCK {
            self.block()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.block()?;
        self.inner.flush()
    }
}

/// snappy-java's `SnappyInputStream` (framed by `SnappyOutputStream`; concatenated streams
/// allowed).
pub struct SnappyJavaReader<R: Read> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    started: bool,
    dec: snap::raw::Decoder,
}

impl<R: Read> SnappyJavaReader<R> {
    pub fn new(inner: R) -> Self {
        SnappyJavaReader {
            inner,
            out: Vec::new(),
            pos: 0,
            started: false,
            dec: snap::raw::Decoder::new(),
        }
    }
    fn fill(&mut self) -> io::Result<bool> {
        let bad =
            |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("snappy stream: {m}"));
        if !self.started {
            let mut h = [0u8; 16];
            self.inner.read_exact(&mut h)?;
            if h[..8] != SNAPPY_MAGIC {
                return Err(bad("bad magic"));
            }
            self.started = true;
        }
        loop {
            let mut l = [0u8; 4];
            let mut got = 0;
            while got < 4 {
                let k = self.inner.read(&mut l[got..])?;
                if k == 0 {
                    if got == 0 {
                        return Ok(false);
                    }
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                got += k;
            }
            if l == SNAPPY_MAGIC[..4] {
                // Another stream's header: skip its rest.
                let mut rest = [0u8; 12];
                self.inner.read_exact(&mut rest)?;
                continue;
            }
            let n = i32::from_be_bytes(l);
            if n < 0 || n as usize > super::txnlog::MAX_ENTRY_LEN {
                return Err(bad("bad block length"));
            }
            let mut c = vec![0u8; n as usize];
            self.inner.read_exact(&mut c)?;
            self.out = self
                .dec
                .decompress_vec(&c)
                .map_err(|e| bad(&e.to_string()))?;
            self.pos = 0;
            if !self.out.is_empty() {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for SnappyJavaReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.out.len() && !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::persist::digest::tree_digest;
    use crate::persist::Adler32;
    use crate::txn::{Txn, TxnBody};
    use jute::ops;
    use jute::txn::{CreateSessionTxn, CreateTxn, TxnHeader};

    pub(crate) fn sample_tree() -> DataTree {
        let mut t = DataTree::new(true);
        let mut ev = vec![];
        let mut z = 0;
        let mut apply = |t: &mut DataTree, ty: i32, client: i64, body: TxnBody| {
            z += 1;
            t.apply(
                &Txn {
                    hdr: TxnHeader {
                        client_id: client,
                        cxid: z as i32,
                        zxid: z,
                        time: 1_700_000_000_000 + z,
                        r#type: ty,
                    },
                    body,
                },
                &mut ev,
            );
        };
        apply(
            &mut t,
            ops::CREATE_SESSION,
            0x77,
            TxnBody::CreateSession(CreateSessionTxn { time_out: 4000 }),
        );
        let digest_acl = vec![Acl {
            perms: 31,
            id: jute::data::Id {
                scheme: "digest".into(),
                id: "u:abc=".into(),
            },
        }];
        for i in 0..20 {
            let acl = if i % 3 == 0 {
                digest_acl.clone()
            } else {
                open_acl()
            };
            apply(
                &mut t,
                ops::CREATE,
                0x77,
                TxnBody::Create(CreateTxn {
                    path: format!("/n{i}"),
                    data: if i % 4 == 0 {
                        None
                    } else {
                        Some(Bytes::from(format!("d{i}é")))
                    },
                    acl,
                    ephemeral: i % 5 == 0,
                    parent_c_version: -1,
                }),
            );
            apply(
                &mut t,
                ops::CREATE,
                0x77,
                TxnBody::Create(CreateTxn {
                    path: format!("/n{i}/c"),
                    data: Some(Bytes::new()),
                    acl: open_acl(),
                    ephemeral: false,
                    parent_c_version: -1,
                }),
            );
        }
        t
    }

    /// A snapshot file holding `nodes` (path, data, czxid) in that order, all with the open ACL.
    fn raw_snapshot(dir: &Path, zxid: i64, nodes: &[(&str, &str, i64)]) -> PathBuf {
        let mut b = BytesMut::new();
        FileHeader {
            magic: SNAP_MAGIC,
            version: 2,
            dbid: -1,
        }
        .encode(&mut b);
        1i32.encode(&mut b);
        0x77i64.encode(&mut b);
        3000i32.encode(&mut b);
        1i32.encode(&mut b);
        1i64.encode(&mut b);
        open_acl().encode(&mut b);
        for &(path, data, z) in nodes {
            path.to_string().encode(&mut b);
            Some(Bytes::from(data.to_string())).encode(&mut b);
            1i64.encode(&mut b);
            StatPersisted {
                czxid: z,
                mzxid: z,
                pzxid: z,
                ..Default::default()
            }
            .encode(&mut b);
        }
        "/".to_string().encode(&mut b);
        Adler32::of(&b).encode(&mut b);
        "/".to_string().encode(&mut b);
        let p = dir.join(format!("snapshot.{zxid:x}"));
        std::fs::write(&p, &b).unwrap();
        p
    }

    fn children(t: &DataTree, path: &str) -> Vec<String> {
        let mut v: Vec<String> = t
            .node(path)
            .unwrap()
            .children
            .iter()
            .map(String::from)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn loads_any_parents_first_order_and_repeated_paths() {
        let dir = crate::persist::txnlog::tests::tempdir();
        // Depth-first, as Java writes it.
        let p = raw_snapshot(
            &dir,
            1,
            &[
                ("", "", 0),
                ("/a", "1", 1),
                ("/a/x", "2", 2),
                ("/b", "3", 3),
            ],
        );
        let l = load(&p, false).unwrap();
        assert_eq!((l.nodes, l.tree.node_count()), (4, 4));
        assert_eq!(children(&l.tree, "/"), ["a", "b"]);
        assert_eq!(children(&l.tree, "/a"), ["x"]);
        assert_eq!(l.tree.sessions.get(&0x77), Some(&3000));
        assert_eq!(l.digest, tree_digest(&l.tree));
        // Parents first but not depth-first: /a/x after /b.
        let p = raw_snapshot(
            &dir,
            2,
            &[
                ("", "", 0),
                ("/a", "1", 1),
                ("/b", "3", 3),
                ("/a/x", "2", 2),
            ],
        );
        let l = load(&p, false).unwrap();
        assert_eq!(l.tree.node_count(), 4);
        assert_eq!(children(&l.tree, "/a"), ["x"]);
        assert_eq!(l.digest, tree_digest(&l.tree));
        // A path twice: the later node replaces the earlier one (Java's map put).
        let p = raw_snapshot(
            &dir,
            3,
            &[
                ("", "", 0),
                ("/a", "1", 1),
                ("/a", "9", 5),
                ("/a/x", "2", 2),
            ],
        );
        let l = load(&p, false).unwrap();
        assert_eq!(l.tree.node_count(), 3);
        let a = l.tree.node("/a").unwrap();
        assert_eq!((*a.data, a.stat.czxid), (Some(&b"9"[..]), 5));
        assert_eq!(children(&l.tree, "/"), ["a"]);
        assert_eq!(children(&l.tree, "/a"), ["x"]);
        assert_eq!(l.digest, tree_digest(&l.tree));
        // A missing parent is refused.
        let p = raw_snapshot(&dir, 4, &[("", "", 0), ("/a/x", "2", 2)]);
        let e = load(&p, false).err().unwrap().to_string();
        assert!(e.contains("unable to find parent /a"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshot_of_a_copy_is_the_tree_when_the_copy_was_taken() {
        let mut t = sample_tree();
        let before = {
            let mut v = Vec::new();
            serialize(&t, t.last_zxid, true, &mut v).unwrap();
            v
        };
        let copy = t.snapshot_copy();
        let mut ev = vec![];
        for i in 0..20 {
            t.apply(
                &Txn {
                    hdr: TxnHeader {
                        client_id: 0x77,
                        cxid: 0,
                        zxid: 1000 + i,
                        time: 5,
                        r#type: ops::DELETE,
                    },
                    body: TxnBody::Delete(jute::txn::DeleteTxn {
                        path: format!("/n{i}/c"),
                    }),
                },
                &mut ev,
            );
        }
        let mut after = Vec::new();
        serialize(&copy, copy.last_zxid, true, &mut after).unwrap();
        assert_eq!(before, after);
        drop(copy);
        assert_eq!(t.node_count(), sample_tree().node_count() - 20);
    }

    /// Java 3.9's format is Java 3.8's plus lastProcessedZxid and a third seal; both load, in
    /// any compression, with and without the digest section.
    #[test]
    fn last_processed_zxid_section_is_java_3_9s_trailer() {
        let t = sample_tree();
        let z = t.last_zxid;
        let bytes = |digest, last_processed_zxid| {
            let mut v = Vec::new();
            let sections = Sections {
                digest,
                last_processed_zxid,
            };
            serialize_sections(&t, z, sections, &mut v).unwrap();
            v
        };
        for digest in [true, false] {
            let v38 = bytes(digest, false);
            let v39 = bytes(digest, true);
            // The 3.8 stream, then the long and a seal over everything before it.
            assert_eq!(v39.len(), v38.len() + 8 + 13);
            assert_eq!(v39[..v38.len()], v38[..]);
            let tail = &v39[v38.len()..];
            assert_eq!(i64::from_be_bytes(tail[..8].try_into().unwrap()), z);
            let sum = i64::from_be_bytes(tail[8..16].try_into().unwrap());
            assert_eq!(sum, Adler32::of(&v39[..v38.len() + 8]));
            assert_eq!(tail[16..], [0, 0, 0, 1, b'/']);
            let t38 = read_stream(&v38[..], |_| Ok(())).unwrap();
            let t39 = read_stream(&v39[..], |_| Ok(())).unwrap();
            assert_eq!(t38.last_processed_zxid, None);
            assert_eq!(t39.last_processed_zxid, Some(z));
            assert_eq!(t38.digest, t39.digest);
            assert_eq!(t39.digest.is_some(), digest);
            // A bit flipped in the section or its seal: corrupt (Java's checkSealIntegrity).
            for at in [v38.len() + 3, v38.len() + 12] {
                let mut bad = v39.clone();
                bad[at] ^= 0x10;
                let e = read_stream(&bad[..], |_| Ok(())).unwrap_err();
                assert_eq!(e.to_string(), "CRC corruption", "flip at {at}");
            }
            // Cut inside the long: no section (Java's EOF there means "an older snapshot").
            let cut = read_stream(&v39[..v38.len() + 4], |_| Ok(())).unwrap();
            assert_eq!((cut.digest, cut.last_processed_zxid), (t38.digest, None));
            if digest {
                // Cut inside the seal: corrupt. (Without a digest section, a cut there is
                // taken for a digest section cut short, as Java 3.8 reads it.)
                for cut in [v38.len() + 8, v39.len() - 1] {
                    let e = read_stream(&v39[..cut], |_| Ok(())).unwrap_err();
                    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
                }
            }
        }
        let dir = crate::persist::txnlog::tests::tempdir();
        for c in [Compression::None, Compression::Gzip, Compression::Snappy] {
            for last_processed_zxid in [true, false] {
                let opts = SnapshotOptions {
                    compression: c,
                    last_processed_zxid,
                    ..Default::default()
                };
                let p = write_snapshot(&t, &dir, z, &opts).unwrap();
                assert!(is_valid(&p), "{c:?}");
                let l = load(&p, true).unwrap();
                assert_eq!(
                    l.trailer.last_processed_zxid,
                    last_processed_zxid.then_some(z)
                );
                assert_eq!(l.trailer.digest.unwrap().digest, tree_digest(&t));
                assert_eq!(l.tree.node_count(), t.node_count());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn round_trip_all_compressions() {
        let t = sample_tree();
        let dir = crate::persist::txnlog::tests::tempdir();
        for c in [Compression::None, Compression::Gzip, Compression::Snappy] {
            let opts = SnapshotOptions {
                compression: c,
                ..Default::default()
            };
            let p = write_snapshot(&t, &dir, t.last_zxid, &opts).unwrap();
            assert!(is_valid(&p), "{c:?}");
            let l = load(&p, true).unwrap();
            assert_eq!(l.zxid, t.last_zxid);
            assert_eq!(l.tree.node_count(), t.node_count());
            assert_eq!(l.tree.sessions, t.sessions);
            assert_eq!(l.trailer.digest.unwrap().digest, tree_digest(&t));
            assert_eq!(l.trailer.digest.unwrap().zxid, t.last_zxid);
            let _ = t.for_each_node(|p, n| {
                let m = l.tree.node(if p.is_empty() { "/" } else { p }).unwrap();
                assert_eq!(
                    (&m.data, &m.acl, &m.stat, &m.children),
                    (&n.data, &n.acl, &n.stat, &n.children)
                );
                Ok::<(), ()>(())
            });
            assert_eq!(l.tree.ephemerals_by_session(), t.ephemerals_by_session());
        }
        // A truncated or bit-flipped file is refused.
        let p = dir.join(crate::persist::snapshot_name(
            t.last_zxid,
            Compression::None,
        ));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[40] ^= 1;
        let bad = dir.join("snapshot.1");
        std::fs::write(&bad, &bytes).unwrap();
        assert!(load(&bad, true).is_err());
        std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
        assert!(!is_valid(&bad));
        assert!(load(&bad, true).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
