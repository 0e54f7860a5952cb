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
//! ```
//!
//! The checksum covers the uncompressed bytes. An older snapshot may end after the first seal
//! (no digest); a reader takes end of input there as "no digest", as Java does. A digest with
//! version < 2 stores the digest as a hex string.
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
use crate::tree::{open_acl, AclList, DataTree};
use bytes::{Bytes, BytesMut};
use jute::data::{Acl, StatPersisted};
use jute::persistence::FileHeader;
use jute::{Decode, Encode};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// fsync the file and its folder before returning.
    pub fsync: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            compression: Compression::None,
            digest: true,
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

/// Serialize `tree` as the uncompressed snapshot stream of txn `zxid` (the tree must reflect
/// exactly the txns up to `zxid`: the digest section says so).
pub fn serialize<W: Write>(
    tree: &DataTree,
    zxid: i64,
    with_digest: bool,
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
    // The ACL cache: number the distinct lists in use.
    let mut ids: HashMap<*const Vec<Acl>, i64> = HashMap::new();
    let mut lists: Vec<AclList> = Vec::new();
    let _ = tree.for_each_node(|_, n| {
        ids.entry(Arc::as_ptr(&n.acl)).or_insert_with(|| {
            lists.push(n.acl.clone());
            lists.len() as i64
        });
        Ok::<(), ()>(())
    });
    (lists.len() as i32).encode(&mut b);
    for (i, l) in lists.iter().enumerate() {
        (i as i64 + 1).encode(&mut b);
        l.as_ref().encode(&mut b);
    }
    let mut written = Written {
        nodes: 0,
        digest: 0,
    };
    tree.for_each_node(|path, n| {
        path.to_string().encode(&mut b);
        n.data.encode(&mut b);
        ids[&Arc::as_ptr(&n.acl)].encode(&mut b);
        n.stat.encode(&mut b);
        written.nodes += 1;
        written.digest = written
            .digest
            .wrapping_add(node_digest(path, n.data.as_deref(), &n.stat));
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
    if with_digest {
        let d = ZxidDigest {
            zxid,
            version: DIGEST_VERSION,
            digest: written.digest,
        };
        d.zxid.encode(&mut b);
        d.version.encode(&mut b);
        d.digest.encode(&mut b);
        out.write_all(&b)?;
        seal(&mut out)?;
    }
    out.flush()?;
    Ok(written)
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
                serialize(tree, zxid, opts.digest, &mut w)?;
                w.into_inner().map_err(|e| e.into_error())?
            }
            Compression::Gzip => {
                let mut w = flate2::write::GzEncoder::new(
                    BufWriter::new(file),
                    flate2::Compression::default(),
                );
                serialize(tree, zxid, opts.digest, &mut w)?;
                w.finish()?.into_inner().map_err(|e| e.into_error())?
            }
            Compression::Snappy => {
                let mut w = SnappyJavaWriter::new(BufWriter::new(file));
                serialize(tree, zxid, opts.digest, &mut w)?;
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

/// One item of a snapshot, in file order.
#[derive(Debug)]
pub enum SnapItem<'a> {
    Session {
        id: i64,
        timeout: i32,
    },
    Acl {
        id: i64,
        acl: Vec<Acl>,
    },
    Node {
        path: &'a str,
        data: Option<Bytes>,
        acl: i64,
        stat: StatPersisted,
    },
}

/// What follows the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    pub header: FileHeader,
    /// `None` for a snapshot written without digest (or digests disabled).
    pub digest: Option<ZxidDigest>,
}

/// A reader that keeps the Adler32 of what it hands out (`CheckedInputStream`).
struct CheckedReader<R> {
    inner: R,
    sum: Adler32,
}

impl<R: Read> CheckedReader<R> {
    fn bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        self.inner.read_exact(&mut v)?;
        self.sum.update(&v);
        Ok(v)
    }
    fn arr<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut a = [0u8; N];
        self.inner.read_exact(&mut a)?;
        self.sum.update(&a);
        Ok(a)
    }
    fn i32(&mut self) -> io::Result<i32> {
        Ok(i32::from_be_bytes(self.arr()?))
    }
    fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_be_bytes(self.arr()?))
    }
    fn len(&mut self, what: &str) -> io::Result<Option<usize>> {
        let n = self.i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < -1 || n as usize > super::txnlog::MAX_ENTRY_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unreasonable {what} length {n}"),
            ));
        }
        Ok(Some(n as usize))
    }
    fn string(&mut self) -> io::Result<String> {
        let Some(n) = self.len("string")? else {
            return Ok(String::new());
        };
        let raw = self.bytes(n)?;
        match String::from_utf8(raw) {
            Ok(s) => Ok(s),
            Err(e) => {
                // Java's decoding of malformed UTF-8 (CESU-8 surrogates etc.), via jute.
                let raw = e.into_bytes();
                let mut b = BytesMut::with_capacity(raw.len() + 4);
                (raw.len() as i32).encode(&mut b);
                b.extend_from_slice(&raw);
                String::decode(&mut b.freeze())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }
    fn buffer(&mut self) -> io::Result<Option<Bytes>> {
        Ok(match self.len("buffer")? {
            None => None,
            Some(n) => Some(Bytes::from(self.bytes(n)?)),
        })
    }
    fn record<T: Decode>(&mut self, n: usize) -> io::Result<T> {
        let v = self.bytes(n)?;
        T::from_bytes_exact(Bytes::from(v))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
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
    fn check_seal(&mut self) -> io::Result<()> {
        let want = self.sum.value();
        let got = self.i64()?;
        let _ = self.string()?;
        if got != want {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "CRC corruption"));
        }
        Ok(())
    }
}

/// Read a snapshot stream (uncompressed), handing each item to `f`. The checksum seals are
/// verified; `f` may stop the read with an error message.
pub fn read_stream<R: Read>(
    input: R,
    mut f: impl FnMut(SnapItem<'_>) -> std::result::Result<(), String>,
) -> io::Result<Trailer> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut r = CheckedReader {
        inner: input,
        sum: Adler32::new(),
    };
    let header: FileHeader = r.record(16)?;
    if header.magic != SNAP_MAGIC {
        return Err(bad(format!(
            "mismatching magic headers {} != {}",
            header.magic, SNAP_MAGIC
        )));
    }
    let count = r.i32()?;
    for _ in 0..count.max(0) {
        let id = r.i64()?;
        let timeout = r.i32()?;
        f(SnapItem::Session { id, timeout }).map_err(bad)?;
    }
    let count = r.i32()?;
    for _ in 0..count.max(0) {
        let id = r.i64()?;
        let n = r
            .len("acl vector")?
            .ok_or_else(|| bad("missing acls".into()))?;
        let mut acl = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            acl.push(r.acl()?);
        }
        f(SnapItem::Acl { id, acl }).map_err(bad)?;
    }
    loop {
        let path = r.string()?;
        if path == "/" {
            break;
        }
        let data = r.buffer()?;
        let acl = r.i64()?;
        let stat: StatPersisted = r.record(60)?;
        f(SnapItem::Node {
            path: &path,
            data,
            acl,
            stat,
        })
        .map_err(bad)?;
    }
    r.check_seal()?;
    let digest = match read_digest(&mut r) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Ok(Trailer {
                header,
                digest: None,
            })
        }
        Err(e) => return Err(e),
    };
    r.check_seal()?;
    Ok(Trailer {
        header,
        digest: Some(digest),
    })
}

fn read_digest<R: Read>(r: &mut CheckedReader<R>) -> io::Result<ZxidDigest> {
    let zxid = r.i64()?;
    let version = r.i32()?;
    let digest = if version < 2 {
        let s = r.string()?;
        u64::from_str_radix(&s, 16).unwrap_or(0) as i64
    } else {
        r.i64()?
    };
    Ok(ZxidDigest {
        zxid,
        version,
        digest,
    })
}

/// Open a snapshot file for reading, decompressing by its extension.
pub fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).at(path)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    Ok(match Compression::from_file_name(name) {
        Compression::None => Box::new(BufReader::with_capacity(256 * 1024, file)),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
        )),
        Compression::Snappy => Box::new(BufReader::with_capacity(
            256 * 1024,
            SnappyJavaReader::new(BufReader::new(file)),
        )),
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
}

/// Load a snapshot file into a fresh tree (`FileSnap.deserialize` of one file).
pub fn load(path: &Path, extended_types: bool) -> Result<LoadedSnapshot> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let zxid = super::zxid_from_name(name, SNAPSHOT_PREFIX)
        .ok_or_else(|| Error::Invalid(format!("{}: not a snapshot file name", path.display())))?;
    let input = open(path)?;
    let mut tree = DataTree::empty_for_load(extended_types);
    let mut sessions = HashMap::new();
    let mut acls: HashMap<i64, AclList> = HashMap::new();
    let open_list = tree.intern_acl(open_acl());
    let mut nodes = 0u64;
    let mut warned = false;
    let trailer = read_stream(input, |item| {
        match item {
            SnapItem::Session { id, timeout } => {
                sessions.insert(id, timeout);
            }
            SnapItem::Acl { id, acl } => {
                acls.insert(id, tree.intern_acl(acl));
            }
            SnapItem::Node {
                path,
                data,
                acl,
                stat,
            } => {
                let acl = if acl == -1 {
                    open_list.clone()
                } else if let Some(a) = acls.get(&acl) {
                    a.clone()
                } else {
                    // Java keeps the dangling id and fails every later access to the node; we
                    // deny all access (an empty ACL) rather than open it up.
                    if !warned {
                        tracing::warn!(
                            "snapshot node {path} refers to unknown ACL {acl}; using an empty ACL"
                        );
                        warned = true;
                    }
                    tree.intern_acl(Vec::new())
                };
                tree.load_node(path, data, acl, stat)?;
                nodes += 1;
            }
        }
        Ok(())
    })
    .map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason: if e.kind() == io::ErrorKind::UnexpectedEof {
            "truncated".into()
        } else {
            e.to_string()
        },
    })?;
    if tree.node("/").is_none() {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            reason: "no root node".into(),
        });
    }
    tree.finish_load(sessions, zxid);
    tree.purge_unused_acls();
    Ok(LoadedSnapshot {
        tree,
        zxid,
        trailer,
        nodes,
    })
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
