//! The transaction log, in Java's `FileTxnLog` format.
//!
//! A file `log.<hex zxid of its first txn>` starts with `FileHeader{magic "ZKLG", version 2,
//! dbid 0}` (16 bytes) and holds entries
//!
//! ```text
//! long  checksum   Adler32 of the entry bytes (java.util.zip.Adler32.getValue())
//! int   length     of the entry bytes
//! byte[length]     TxnHeader, the txn record (none for the old body-less closeSession),
//!                  then TxnDigest{int version, long treeDigest} when digests are enabled
//! byte  0x42       end of record ('B')
//! ```
//!
//! A reader knows a TxnDigest is there when bytes remain after the txn record (Java's
//! `SerializeUtils.deserializeTxn`: it tries to read one and takes EOF as "none").
//!
//! Files are preallocated with zeros in `preAllocSize` blocks (64 MiB default, Java's
//! `zookeeper.preAllocSize` in KiB): the file is extended whenever the write position comes
//! within 4 KiB of its end (`FilePadding.calculateFileSizeWithPadding`). So the end of the log
//! is a zero checksum / zero length, and a crash leaves either zeros or a partial record.
//!
//! Reading (`FileTxnLog.FileTxnIterator`): entries are read until one is not valid (zero or
//! unreasonable length, end of file inside it, no 0x42, checksum mismatch). What lies from
//! there to the end of the file is then judged by [`classify_tail`], and only two things may
//! end a file:
//! - zeros to the end of the file (Java's preallocation: the clean end), or
//! - a *torn tail*: one record cut short by a crash (the file ends inside it, or its bytes
//!   stop and only zeros follow up to and past where its end byte belongs), with nothing
//!   after it. It was never fsync'd, so never acknowledged: recovery cuts it off.
//!
//! Everything else is corruption and reading fails with the file, the offset and the last
//! good zxid: a checksum mismatch or a bad end byte in a complete record, a zero / negative /
//! huge / wrong length, a record followed by more data. Cutting there would silently drop
//! acknowledged txns. Java refuses a checksum mismatch or an unreasonable length, but takes
//! a zero length, a missing 0x42 or a length past the data as the end of the file and goes on
//! with the next one (losing the rest of the file); we refuse those too, and the operator
//! can cut explicitly with `zk-logdump truncate` ([`truncate_file_after`]).
//! Java never appends to an existing log after a restart: it starts a new file, and so do we.

use super::{Adler32, Error, IoContext, Result, LOG_PREFIX, TXNLOG_MAGIC};
use crate::stats::AvgMinMax;
use crate::txn::{Txn, TxnBody};
use bytes::{Bytes, BytesMut};
use jute::codec::DecodeErrorKind;
use jute::persistence::FileHeader;
use jute::txn::{CreateTxn, CreateTxnV0, TxnDigest, TxnHeader};
use jute::{ops, Decode, Encode, Zxid};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Java's default `preAllocSize`: 64 MiB.
pub const DEFAULT_PREALLOC_SIZE: u64 = 64 * 1024 * 1024;
/// The end-of-record byte.
pub const EOR: u8 = 0x42;
/// Entries longer than this are treated as garbage (Java's own limit is jute.maxbuffer + 1 KiB,
/// 1 MiB by default; we accept more so that a log written with a larger jute.maxbuffer loads).
pub const MAX_ENTRY_LEN: usize = 256 * 1024 * 1024;
const HEADER_LEN: u64 = 16;

/// Writer options (`zoo.cfg` / system properties of the same names).
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// `preAllocSize` in bytes (the config value is KiB); 0 or negative disables padding.
    pub prealloc_size: u64,
    /// `forceSync` (`zookeeper.forceSync`, default yes): fdatasync on every `flush_and_sync`.
    pub force_sync: bool,
    /// Written in each file header; Java always uses 0.
    pub dbid: i64,
    /// `fsync.warningthresholdms`: an fsync slower than this is logged and counted.
    pub fsync_warning_threshold_ms: i64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            prealloc_size: DEFAULT_PREALLOC_SIZE,
            force_sync: true,
            dbid: 0,
            fsync_warning_threshold_ms: DEFAULT_FSYNC_WARNING_THRESHOLD_MS,
        }
    }
}

/// Java's `FilePadding.calculateFileSizeWithPadding`.
pub fn padded_size(position: u64, file_size: u64, prealloc: u64) -> u64 {
    if prealloc > 0 && position + 4096 >= file_size {
        if position > file_size {
            let s = position + prealloc;
            s - s % prealloc
        } else {
            file_size + prealloc
        }
    } else {
        file_size
    }
}

/// The entry bytes of a txn (Java's `Util.marshallTxnEntry`): header, body, optional digest.
pub fn encode_entry(txn: &Txn, digest: Option<&TxnDigest>) -> Bytes {
    encode_entry_with(&mut BytesMut::new(), txn, digest)
}

/// [`encode_entry`] through `scratch`, a buffer the caller keeps between calls: the entry
/// is encoded there (growing it once, not each entry from scratch) and copied out into one
/// allocation of its exact size, which shares nothing with later entries.
pub fn encode_entry_with(scratch: &mut BytesMut, txn: &Txn, digest: Option<&TxnDigest>) -> Bytes {
    scratch.clear();
    txn.encode(scratch);
    if let Some(d) = digest {
        d.encode(scratch);
    }
    let entry = Bytes::copy_from_slice(scratch);
    if scratch.capacity() > SCRATCH_KEPT {
        // One big txn (a 1 MB setData) does not pin its size for good.
        *scratch = BytesMut::new();
    }
    entry
}

/// The most [`encode_entry_with`]'s scratch buffer keeps between entries.
const SCRATCH_KEPT: usize = 64 * 1024;

/// Append one framed entry (checksum, length, bytes, 0x42) to `out`.
pub fn frame_entry(entry: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&Adler32::of(entry).to_be_bytes());
    out.extend_from_slice(&(entry.len() as i32).to_be_bytes());
    out.extend_from_slice(entry);
    out.push(EOR);
}

fn file_header(dbid: i64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&TXNLOG_MAGIC.to_be_bytes());
    h[4..8].copy_from_slice(&super::FORMAT_VERSION.to_be_bytes());
    h[8..16].copy_from_slice(&dbid.to_be_bytes());
    h
}

struct OpenLog {
    path: PathBuf,
    file: File,
    /// Bytes written to the file so far (header + entries).
    written: u64,
    /// The file's size after padding.
    padded: u64,
}

impl OpenLog {
    /// fdatasync the file, timing it into [`FSYNC_TIMES`] (Java's `FileTxnLog.commit`: one
    /// `fsynctime` sample in ms per file synced, and a warning past the threshold).
    fn sync_timed(&self, warning_threshold_ms: i64) -> Result<()> {
        let start = Instant::now();
        self.file.sync_data().at(&self.path)?;
        let ms = start.elapsed().as_millis() as i64;
        let over = ms > warning_threshold_ms;
        if over {
            // Java's FileTxnLog wording (operators alert on it), its missing space included.
            tracing::warn!(
                "fsync-ing the write ahead log in {} took {ms}ms which will adversely effect \
                 operation latency.File size is {} bytes. See the ZooKeeper troubleshooting guide",
                std::thread::current().name().unwrap_or("SyncThread"),
                self.padded
            );
        }
        let mut times = FSYNC_TIMES.lock().unwrap_or_else(|p| p.into_inner());
        times.ms.add(ms);
        times.over_threshold += u64::from(over);
        Ok(())
    }
}

/// Txn log fsyncs of this process not yet taken into a pipeline's statistics: Java's
/// `ServerMetrics.FSYNC_TIME` and `fsyncThresholdExceedCount`, which are process-wide too
/// (every writer, whatever role the server is in, adds to them).
#[derive(Debug, Clone)]
pub struct FsyncTimes {
    /// fdatasync durations in whole ms.
    pub ms: AvgMinMax,
    /// How many of them took longer than the warning threshold.
    pub over_threshold: u64,
}

impl FsyncTimes {
    const NONE: FsyncTimes = FsyncTimes {
        ms: AvgMinMax::new(),
        over_threshold: 0,
    };
}

static FSYNC_TIMES: Mutex<FsyncTimes> = Mutex::new(FsyncTimes::NONE);

/// Java's `fsync.warningthresholdms` default.
pub const DEFAULT_FSYNC_WARNING_THRESHOLD_MS: i64 = 1000;

/// The fsyncs measured since the last call (every writer in the process), emptied.
pub fn take_fsync_times() -> FsyncTimes {
    let mut times = FSYNC_TIMES.lock().unwrap_or_else(|p| p.into_inner());
    std::mem::replace(&mut *times, FsyncTimes::NONE)
}

/// Appends txns to `log.*` files in one folder (`<dataLogDir>/version-2`). Not thread-safe;
/// the caller batches: `append` many, then one `flush_and_sync` (group commit).
pub struct TxnLogWriter {
    dir: PathBuf,
    opts: LogOptions,
    cur: Option<OpenLog>,
    /// Framed entries not yet written to the file.
    buf: Vec<u8>,
    /// Rolled files whose last bytes are written but not yet synced.
    rolled: Vec<OpenLog>,
    /// A file was created since the last sync: its folder entry must be synced too.
    dir_dirty: bool,
    last_zxid: i64,
}

impl TxnLogWriter {
    /// A writer for the folder `dir` (created if missing). No file is opened until the first
    /// append: like Java, every writer starts a new `log.<zxid>` file.
    pub fn new(dir: impl Into<PathBuf>, opts: LogOptions) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).at(&dir)?;
        Ok(TxnLogWriter {
            dir,
            opts,
            cur: None,
            buf: Vec::with_capacity(64 * 1024),
            rolled: Vec::new(),
            dir_dirty: false,
            last_zxid: 0,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file being appended to, if any.
    pub fn current_file(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.path.as_path())
    }

    /// Bytes appended to the current file so far, including unflushed ones (not the padding).
    pub fn current_size(&self) -> u64 {
        self.cur
            .as_ref()
            .map_or(0, |c| c.written + self.buf.len() as u64)
    }

    /// The zxid of the last appended txn.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Append a txn (and, with digests enabled, the tree digest after it). Buffered: durable
    /// only after `flush_and_sync`.
    pub fn append(&mut self, txn: &Txn, digest: Option<&TxnDigest>) -> Result<()> {
        let entry = encode_entry(txn, digest);
        self.append_entry(txn.hdr.zxid, &entry)
    }

    /// Append an already encoded entry (TxnHeader + txn [+ TxnDigest]) for txn `zxid`, e.g. a
    /// proposal received from a leader.
    pub fn append_entry(&mut self, zxid: i64, entry: &[u8]) -> Result<()> {
        if entry.is_empty() {
            return Err(Error::Invalid("empty txn log entry".into()));
        }
        if zxid <= self.last_zxid {
            tracing::warn!(
                "Current zxid {} is <= {}",
                Zxid::from(zxid),
                Zxid::from(self.last_zxid)
            );
        } else {
            self.last_zxid = zxid;
        }
        if self.cur.is_none() {
            self.open_file(zxid)?;
        }
        let cur = self.cur.as_mut().expect("open");
        let position = cur.written + self.buf.len() as u64;
        let size = padded_size(position, cur.padded, self.opts.prealloc_size);
        if size != cur.padded {
            cur.file.set_len(size).at(&cur.path)?;
            cur.padded = size;
        }
        frame_entry(entry, &mut self.buf);
        Ok(())
    }

    fn open_file(&mut self, zxid: i64) -> Result<()> {
        let path = self.dir.join(super::log_name(zxid));
        tracing::info!("Creating new log file: {}", super::log_name(zxid));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at(&path)?;
        file.write_all(&file_header(self.opts.dbid)).at(&path)?;
        self.dir_dirty = true;
        self.cur = Some(OpenLog {
            path,
            file,
            written: HEADER_LEN,
            padded: HEADER_LEN,
        });
        Ok(())
    }

    fn write_buffered(&mut self) -> Result<()> {
        if let Some(cur) = self.cur.as_mut() {
            if !self.buf.is_empty() {
                cur.file.write_all(&self.buf).at(&cur.path)?;
                cur.written += self.buf.len() as u64;
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// Write everything appended so far and, with `force_sync`, fdatasync it (and any file
    /// rolled since the last sync, and the folder when a file was created). Java's `commit`.
    pub fn flush_and_sync(&mut self) -> Result<()> {
        self.write_buffered()?;
        if self.opts.force_sync {
            let threshold = self.opts.fsync_warning_threshold_ms;
            for r in &self.rolled {
                r.sync_timed(threshold)?;
            }
            if let Some(cur) = &self.cur {
                cur.sync_timed(threshold)?;
            }
            if self.dir_dirty {
                super::sync_dir(&self.dir)?;
                self.dir_dirty = false;
            }
        }
        self.rolled.clear();
        Ok(())
    }

    /// Java's `rollLog`: write out the current file; the next append starts a new one. The old
    /// file is synced by the next `flush_and_sync`.
    pub fn roll(&mut self) -> Result<()> {
        self.write_buffered()?;
        if let Some(cur) = self.cur.take() {
            self.rolled.push(cur);
        }
        Ok(())
    }
}

/// One txn read from a log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub txn: Txn,
    pub digest: Option<TxnDigest>,
    /// The entry bytes (TxnHeader + txn [+ digest]), e.g. to forward in a learner DIFF.
    pub raw: Bytes,
    /// Offset of the entry's checksum in its file.
    pub offset: u64,
}

/// A file whose valid entries end before its data does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// End of the last valid entry: truncating the file here removes the torn record.
    pub valid_len: u64,
    pub file_len: u64,
    pub reason: String,
    /// Zxid of the last valid entry in that file, if any.
    pub last_zxid: Option<i64>,
}

/// Decode entry bytes as Java's `SerializeUtils.deserializeTxn`: TxnHeader, the body for its
/// type (a pre-3.3 create without parentCVersion becomes a create with -1), then a TxnDigest
/// if bytes remain.
pub fn decode_entry(
    raw: &Bytes,
) -> std::result::Result<(Txn, Option<TxnDigest>), jute::DecodeError> {
    let mut input = raw.clone();
    let hdr = TxnHeader::decode(&mut input)?;
    let body_start = input.clone();
    let body = match TxnBody::decode(hdr.r#type, &mut input) {
        Ok(b) => b,
        Err(e)
            if hdr.r#type == ops::CREATE && matches!(e.kind, DecodeErrorKind::Truncated { .. }) =>
        {
            input = body_start;
            let v0 = CreateTxnV0::decode(&mut input)?;
            TxnBody::Create(CreateTxn {
                path: v0.path,
                data: v0.data,
                acl: v0.acl,
                ephemeral: v0.ephemeral,
                parent_c_version: -1,
            })
        }
        Err(e) => return Err(e),
    };
    let digest = if input.len() >= 12 {
        Some(TxnDigest::decode(&mut input)?)
    } else {
        None
    };
    Ok((Txn { hdr, body }, digest))
}

struct Cursor {
    path: PathBuf,
    reader: BufReader<File>,
    pos: u64,
    len: u64,
    last_zxid: Option<i64>,
}

enum Step {
    Entry(LogEntry),
    /// No valid entry starts at this offset: the file ends here, cleanly or not.
    End {
        at: u64,
    },
}

/// What follows the last valid entry of a log file (see [`classify_tail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing, or only zeros (preallocated space).
    Clean,
    /// One record cut short by a crash, then only zeros: safe to cut off.
    Torn(&'static str),
    /// Anything else: cutting here would lose data.
    Corrupt(String),
}

/// Judge the bytes of a log file from an offset where no valid entry starts. `nonzero` holds
/// the bytes from there up to and including the file's last non-zero byte (only zeros follow
/// it), possibly capped: `nonzero_len` is the uncapped length; `remaining` is the number of
/// bytes from the offset to the end of the file. Pure: the rule in one place.
pub fn classify_tail(nonzero: &[u8], nonzero_len: u64, remaining: u64) -> Tail {
    if nonzero_len == 0 {
        return Tail::Clean;
    }
    if nonzero_len < 12 {
        // Checksum and length not both there: a header cut short, nothing after it.
        return Tail::Torn("entry header cut short");
    }
    let crc = i64::from_be_bytes(nonzero[0..8].try_into().expect("12 bytes checked"));
    let len = i32::from_be_bytes(nonzero[8..12].try_into().expect("12 bytes checked"));
    if len == 0 {
        // A zero length ends the log only if nothing but zeros follows.
        return Tail::Corrupt("zero entry length followed by more data".into());
    }
    if len < 0 || len as usize > MAX_ENTRY_LEN {
        return Tail::Corrupt(format!("unreasonable entry length {len}"));
    }
    let size = 12 + len as u64 + 1;
    if nonzero_len >= size {
        // Complete up to its end byte: written whole, then damaged (or a wrong length).
        let what = match nonzero.get(size as usize - 1) {
            Some(&b) if b != EOR => "missing end-of-record byte 0x42",
            _ => "CRC check failed",
        };
        return Tail::Corrupt(if nonzero_len > size {
            format!(
                "{what} (entry length {len}, followed by {} more bytes of data)",
                nonzero_len - size
            )
        } else {
            format!("{what} (entry length {len}, the last entry of the file)")
        });
    }
    // The record's bytes stop before its end byte. A crash leaves that, but so does a damaged
    // length field that points past the real end: a valid record ending earlier says so.
    let mut adler = Adler32::new();
    let mut from = 12;
    for e in 12..nonzero.len() {
        if nonzero[e] == EOR && e > 12 {
            adler.update(&nonzero[from..e]);
            from = e;
            if adler.value() == crc {
                return Tail::Corrupt(format!(
                    "entry length field says {len}, but a valid entry of length {} is there",
                    e - 12
                ));
            }
        }
    }
    if remaining < size {
        Tail::Torn("file ends inside the last entry")
    } else {
        Tail::Torn("last entry only partly written, zeros after it")
    }
}

/// Reads the txns with zxid >= `from` across the log files of a folder, in order.
pub struct TxnLogReader {
    files: VecDeque<PathBuf>,
    cur: Option<Cursor>,
    from: i64,
    torn: Vec<TornTail>,
    header: Option<FileHeader>,
}

/// Java's `FileTxnLog.getLogFiles`: the newest log starting at or before `zxid` and all later
/// ones, ascending.
pub fn log_files_from(dir: &Path, zxid: i64) -> Result<Vec<(i64, PathBuf)>> {
    let files = super::list_files(dir, LOG_PREFIX)?;
    let mut start = 0;
    for (z, _) in &files {
        if *z > zxid {
            break;
        }
        if *z > start {
            start = *z;
        }
    }
    Ok(files.into_iter().filter(|(z, _)| *z >= start).collect())
}

impl TxnLogReader {
    /// Txns with zxid >= `from` in the folder `dir` (`<dataLogDir>/version-2`).
    pub fn open(dir: &Path, from: i64) -> Result<Self> {
        let files = log_files_from(dir, from)?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        Ok(TxnLogReader {
            files,
            cur: None,
            from,
            torn: Vec::new(),
            header: None,
        })
    }

    /// Every txn of one file (for dump tools), with the same rules.
    pub fn open_file(path: &Path) -> Result<Self> {
        Ok(TxnLogReader {
            files: VecDeque::from([path.to_path_buf()]),
            cur: None,
            from: i64::MIN,
            torn: Vec::new(),
            header: None,
        })
    }

    /// Files whose tail was torn, seen so far.
    pub fn torn_tails(&self) -> &[TornTail] {
        &self.torn
    }

    /// The header of the file being read.
    pub fn header(&self) -> Option<&FileHeader> {
        self.header.as_ref()
    }

    /// The file being read.
    pub fn current_file(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.path.as_path())
    }

    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.files.pop_front() else {
            return Ok(false);
        };
        let file = File::open(&path).at(&path)?;
        let len = file.metadata().at(&path)?.len();
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut h = [0u8; 16];
        let complete = read_full(&mut reader, &mut h).at(&path)?;
        if !complete || (h == [0u8; 16] && last_nonzero(&path, 0, len)?.is_none()) {
            // Created by a crash before its header was written: it holds no entries. (Java
            // cannot read such a file; recovery removes it.)
            self.torn.push(TornTail {
                file: path,
                valid_len: 0,
                file_len: len,
                reason: "no file header".into(),
                last_zxid: None,
            });
            return self.open_next();
        }
        let header = FileHeader::from_bytes_exact(Bytes::copy_from_slice(&h)).map_err(|e| {
            Error::Corrupt {
                path: path.clone(),
                offset: 0,
                reason: e.to_string(),
            }
        })?;
        if header.magic != TXNLOG_MAGIC {
            return Err(Error::Corrupt {
                path,
                offset: 0,
                reason: format!("invalid magic number {} != {}", header.magic, TXNLOG_MAGIC),
            });
        }
        self.header = Some(header);
        self.cur = Some(Cursor {
            path,
            reader,
            pos: HEADER_LEN,
            len,
            last_zxid: None,
        });
        Ok(true)
    }

    /// The next txn, `None` at the end of the last file.
    pub fn next_entry(&mut self) -> Result<Option<LogEntry>> {
        loop {
            if self.cur.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let cur = self.cur.as_mut().expect("open");
            match read_step(cur)? {
                Step::Entry(e) => {
                    cur.last_zxid = Some(e.txn.hdr.zxid);
                    if e.txn.hdr.zxid < self.from {
                        continue;
                    }
                    return Ok(Some(e));
                }
                Step::End { at } => {
                    let cur = self.cur.take().expect("open");
                    match judge_tail(&cur.path, at, cur.len)? {
                        Tail::Clean => {}
                        Tail::Torn(reason) => self.torn.push(TornTail {
                            file: cur.path,
                            valid_len: at,
                            file_len: cur.len,
                            reason: reason.into(),
                            last_zxid: cur.last_zxid,
                        }),
                        Tail::Corrupt(reason) => {
                            return Err(corrupt_entry(&cur.path, at, cur.last_zxid, &reason))
                        }
                    }
                }
            }
        }
    }
}

/// How many znodes the txns with zxid >= `from` in the log folder `dir` add, net (creates
/// minus deletes; a multi counts 0): a recovery sizes the tree's index with it before the
/// replay. Reads only the first bytes of each entry (no checksum, no decoding) and stops
/// quietly at whatever it cannot read: it is an estimate, the replay judges the files.
pub fn estimate_growth(dir: &Path, from: i64) -> u64 {
    let mut net = 0i64;
    for (_, path) in log_files_from(dir, from).unwrap_or_default() {
        let Ok(file) = File::open(&path) else { break };
        let mut r = BufReader::with_capacity(256 * 1024, file);
        if r.seek_relative(HEADER_LEN as i64).is_err() {
            break;
        }
        // The entry's checksum and length, then its TxnHeader (client id, cxid, zxid, time,
        // type: 32 bytes).
        let mut head = [0u8; 12 + 32];
        while read_full(&mut r, &mut head).unwrap_or(false) {
            let len = i32::from_be_bytes(head[8..12].try_into().expect("4 bytes"));
            if len < 32 || len as usize > MAX_ENTRY_LEN {
                break;
            }
            let zxid = i64::from_be_bytes(head[24..32].try_into().expect("8 bytes"));
            let op = i32::from_be_bytes(head[40..44].try_into().expect("4 bytes"));
            if zxid >= from {
                net += match op {
                    ops::CREATE | ops::CREATE2 | ops::CREATE_CONTAINER | ops::CREATE_TTL => 1,
                    ops::DELETE | ops::DELETE_CONTAINER => -1,
                    _ => 0,
                };
            }
            // The rest of the entry and its end byte.
            if r.seek_relative(len as i64 - 32 + 1).is_err() {
                break;
            }
        }
    }
    net.max(0) as u64
}

/// The refusal for damaged data in a log: file, offset, the last good zxid and what the
/// operator can do about it.
fn corrupt_entry(path: &Path, at: u64, last_zxid: Option<i64>, why: &str) -> Error {
    let name_zxid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| super::zxid_from_name(n, LOG_PREFIX));
    let after = match (last_zxid, name_zxid) {
        (Some(z), _) => format!("the entry after zxid {}", Zxid::from(z)),
        (None, Some(z)) => format!("the first entry (expected zxid {})", Zxid::from(z)),
        (None, None) => "the first entry".into(),
    };
    let action = match last_zxid {
        Some(z) => format!(
            "by running `zk-logdump truncate --zxid {} --yes {}`",
            Zxid::from(z),
            path.display()
        ),
        None => format!("by moving {} away", path.display()),
    };
    Error::Corrupt {
        path: path.to_path_buf(),
        offset: at,
        reason: format!(
            "{why} at {after}. Refusing to start: cutting the log here would silently drop \
             the txns after it, which may have been acknowledged. Restore the file from a \
             healthy copy (or let a learner resync from its leader), or accept losing every \
             txn after that point {action} (and move later log files away)"
        ),
    }
}

impl Iterator for TxnLogReader {
    type Item = Result<LogEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

/// Fill `buf`; false if the input ended first (what was there is consumed).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn read_step(cur: &mut Cursor) -> Result<Step> {
    let at = cur.pos;
    let end = Ok(Step::End { at });
    let mut head = [0u8; 12];
    if !read_full(&mut cur.reader, &mut head).at(&cur.path)? {
        return end;
    }
    let crc = i64::from_be_bytes(head[0..8].try_into().expect("8"));
    let len = i32::from_be_bytes(head[8..12].try_into().expect("4"));
    if len <= 0 || len as usize > MAX_ENTRY_LEN || len as u64 >= cur.len.saturating_sub(at + 12) {
        return end;
    }
    let mut body = vec![0u8; len as usize + 1];
    if !read_full(&mut cur.reader, &mut body).at(&cur.path)? || body[len as usize] != EOR {
        return end;
    }
    body.truncate(len as usize);
    if Adler32::of(&body) != crc {
        return end;
    }
    cur.pos = at + 12 + len as u64 + 1;
    let raw = Bytes::from(body);
    let (txn, digest) = decode_entry(&raw).map_err(|e| {
        corrupt_entry(
            &cur.path,
            at,
            cur.last_zxid,
            &format!("undecodable txn ({e})"),
        )
    })?;
    Ok(Step::Entry(LogEntry {
        txn,
        digest,
        raw,
        offset: at,
    }))
}

/// The most bytes of a tail read for [`classify_tail`]; past that only the header matters.
const TAIL_READ_MAX: u64 = 16 * 1024 * 1024;

/// Read what lies in `path` from `at` (where no valid entry starts) and classify it.
fn judge_tail(path: &Path, at: u64, len: u64) -> Result<Tail> {
    let Some(last) = last_nonzero(path, at, len)? else {
        return Ok(Tail::Clean);
    };
    let nonzero_len = last + 1 - at;
    let mut buf = vec![0u8; nonzero_len.min(TAIL_READ_MAX) as usize];
    File::open(path)
        .and_then(|f| f.read_exact_at(&mut buf, at))
        .at(path)?;
    Ok(classify_tail(&buf, nonzero_len, len - at))
}

/// The offset of the last non-zero byte of `path` in `[at, len)`, if any. Reads the whole
/// range (only when a file's entries end; preallocated space is mostly holes, cheap to read).
fn last_nonzero(path: &Path, at: u64, len: u64) -> Result<Option<u64>> {
    let file = File::open(path).at(path)?;
    let mut buf = vec![0u8; 1024 * 1024];
    let mut pos = at;
    let mut last = None;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], pos).at(path)?;
        let chunk = &buf[..n];
        if !chunk.chunks(64 * 1024).all(is_zero) {
            let j = chunk
                .iter()
                .rposition(|&b| b != 0)
                .expect("a non-zero byte");
            last = Some(pos + j as u64);
        }
        pos += n as u64;
    }
    Ok(last)
}

/// Whether every byte is zero: compared with a block of zeros, which is a `memcmp` at any
/// optimisation level (the preallocated megabytes after a log's last entry are read at
/// every start, and by the tests' unoptimised builds).
fn is_zero(b: &[u8]) -> bool {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    b.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// Cut a torn tail off (the file keeps its valid entries; Java reads it the same way). A file
/// without a complete header holds nothing and is removed (Java would refuse it).
pub fn truncate_torn(t: &TornTail) -> Result<()> {
    if t.valid_len < HEADER_LEN {
        std::fs::remove_file(&t.file).at(&t.file)?;
        return t.file.parent().map_or(Ok(()), super::sync_dir);
    }
    cut_file(&t.file, t.valid_len)
}

/// Java's `FileTxnLog.truncate(zxid)` (a learner's TRUNC): keep the txns up to and including
/// `zxid`, cut the file holding it right after it and delete every later log file.
pub fn truncate_after(dir: &Path, zxid: i64) -> Result<()> {
    let files = log_files_from(dir, zxid)?;
    let Some(((_, first), rest)) = files.split_first() else {
        return Err(Error::Invalid(
            "No log files found to truncate! This could happen if you still have snapshots from an old setup or \
             log files were deleted accidentally or dataLogDir was changed in zoo.cfg."
                .into(),
        ));
    };
    let cut = end_of_entries_upto(first, zxid)?.unwrap_or(HEADER_LEN);
    cut_file(first, cut)?;
    for (_, p) in rest {
        std::fs::remove_file(p).at(p)?;
    }
    super::sync_dir(dir)
}

/// The offset just past the last entry of `path` with zxid <= `zxid`, if there is one. The
/// entries up to there must be valid; what lies after them is not read.
fn end_of_entries_upto(path: &Path, zxid: i64) -> Result<Option<u64>> {
    let mut r = TxnLogReader::open_file(path)?;
    let mut cut = None;
    while let Some(e) = r.next_entry()? {
        if e.txn.hdr.zxid > zxid {
            break;
        }
        cut = Some(e.offset + 12 + e.raw.len() as u64 + 1);
        if e.txn.hdr.zxid == zxid {
            break;
        }
    }
    Ok(cut)
}

fn cut_file(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new().write(true).open(path).at(path)?;
    f.set_len(len).at(path)?;
    f.sync_all().at(path)
}

/// Where the operator's cut for `zxid` goes in one log file: the offset just past the valid
/// entry with that zxid (only the entries up to it are read and checked).
pub fn end_of_entry(path: &Path, zxid: i64) -> Result<u64> {
    let mut r = TxnLogReader::open_file(path)?;
    while let Some(e) = r.next_entry()? {
        if e.txn.hdr.zxid == zxid {
            return Ok(e.offset + 12 + e.raw.len() as u64 + 1);
        }
    }
    Err(Error::Invalid(format!(
        "{}: no valid entry with zxid {} before the first damaged one",
        path.display(),
        Zxid::from(zxid)
    )))
}

/// The operator's explicit cut (`zk-logdump truncate`, as Java's `TxnLogToolkit` recovery
/// mode): keep the entries of one log file up to and including the one with `zxid`, drop
/// everything after it in that file. Returns the new length of the file and the bytes cut.
pub fn truncate_file_after(path: &Path, zxid: i64) -> Result<(u64, u64)> {
    let len = std::fs::metadata(path).at(path)?.len();
    let cut = end_of_entry(path, zxid)?;
    cut_file(path, cut)?;
    Ok((cut, len - cut))
}

/// The zxid of the last valid txn in the folder, or -1 (Java's `getLastLoggedZxid`).
pub fn last_logged_zxid(dir: &Path) -> Result<i64> {
    let files = super::list_files(dir, LOG_PREFIX)?;
    let Some((start, _)) = files.last() else {
        return Ok(-1);
    };
    let mut z = *start;
    let mut r = TxnLogReader::open(dir, *start)?;
    while let Some(e) = r.next_entry()? {
        z = e.txn.hdr.zxid;
    }
    Ok(z)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jute::txn::{CreateSessionTxn, SetDataTxn};

    fn txn(zxid: i64) -> Txn {
        Txn {
            hdr: TxnHeader {
                client_id: 0x1234,
                cxid: zxid as i32,
                zxid,
                time: 1_700_000_000_000 + zxid,
                r#type: if zxid % 2 == 0 {
                    ops::SET_DATA
                } else {
                    ops::CREATE_SESSION
                },
            },
            body: if zxid % 2 == 0 {
                TxnBody::SetData(SetDataTxn {
                    path: "/a".into(),
                    data: Some(Bytes::from(vec![7u8; zxid as usize % 50])),
                    version: 1,
                })
            } else {
                TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 })
            },
        }
    }

    /// Entries encoded one after another through one scratch buffer each decode to their
    /// own txn and digest (none shares bytes with a later one), and a big entry does not
    /// leave the scratch buffer big.
    #[test]
    fn entries_through_one_scratch_buffer_stay_apart() {
        let mut scratch = BytesMut::new();
        let mut big = txn(2);
        if let TxnBody::SetData(t) = &mut big.body {
            t.data = Some(Bytes::from(vec![9u8; 3 * SCRATCH_KEPT]));
        }
        let txns = [txn(1), txn(2), big, txn(4), txn(5)];
        let digest = |z: i64| {
            (z % 2 == 0).then_some(TxnDigest {
                version: 2,
                tree_digest: z * 1000,
            })
        };
        let entries: Vec<Bytes> = txns
            .iter()
            .map(|t| encode_entry_with(&mut scratch, t, digest(t.hdr.zxid).as_ref()))
            .collect();
        assert!(scratch.capacity() <= SCRATCH_KEPT, "{}", scratch.capacity());
        for (t, e) in txns.iter().zip(&entries) {
            let (decoded, d) = decode_entry(e).unwrap();
            assert_eq!(&decoded, t);
            assert_eq!(d, digest(t.hdr.zxid));
        }
    }

    /// The estimate counts creates minus deletes from `from` on, across files, stops at a
    /// torn tail, and never fails.
    #[test]
    fn estimate_growth_counts_creates_minus_deletes() {
        let dir = tempdir();
        let mut w = TxnLogWriter::new(&dir, LogOptions::default()).unwrap();
        let create = |z: i64| Txn {
            hdr: TxnHeader {
                r#type: ops::CREATE,
                ..txn(z).hdr
            },
            body: TxnBody::Create(CreateTxn {
                path: format!("/n{z}"),
                data: None,
                acl: vec![],
                ephemeral: false,
                parent_c_version: -1,
            }),
        };
        let delete = |z: i64| Txn {
            hdr: TxnHeader {
                r#type: ops::DELETE,
                ..txn(z).hdr
            },
            body: TxnBody::Delete(jute::txn::DeleteTxn { path: "/n1".into() }),
        };
        // 1..=40: 20 creates, 10 deletes, 10 set/session txns; a roll in the middle.
        for z in 1..=40 {
            let t = match z % 4 {
                0 | 1 => create(z),
                2 => delete(z),
                _ => txn(z),
            };
            w.append(&t, None).unwrap();
            if z == 17 {
                w.roll().unwrap();
            }
        }
        w.flush_and_sync().unwrap();
        assert_eq!(estimate_growth(&dir, 1), 10);
        // From 21: creates 21, 24, 25, 28, ..., 40 (10), deletes 22, 26, ..., 38 (5).
        assert_eq!(estimate_growth(&dir, 21), 5);
        assert_eq!(estimate_growth(&dir, 41), 0);
        // A garbled length ends the count of that file quietly.
        let files = super::super::list_files(&dir, "log").unwrap();
        let f = OpenOptions::new().write(true).open(&files[1].1).unwrap();
        f.write_all_at(&[0xff; 4], HEADER_LEN + 8).unwrap();
        assert_eq!(estimate_growth(&dir, 1), 5);
        assert_eq!(estimate_growth(&tempdir(), 1), 0);
    }

    #[test]
    fn padding_like_java() {
        let p = 65536;
        assert_eq!(padded_size(16, 16, p), 16 + p);
        assert_eq!(padded_size(1000, 16 + p, p), 16 + p);
        assert_eq!(padded_size(62000, 16 + p, p), 16 + 2 * p);
        assert_eq!(padded_size(140000, 16 + p, p), 3 * p);
        assert_eq!(padded_size(5000, 1016, 0), 1016);
    }

    /// A log whose only entry is torn (Java rolls at each snapshot, so this is common): no
    /// valid zxid in it, and truncation keeps just the header.
    #[test]
    fn torn_sole_entry_of_newest_log() {
        let dir = tempdir();
        let mut w = TxnLogWriter::new(&dir, LogOptions::default()).unwrap();
        for z in 1..=5 {
            w.append(&txn(z), None).unwrap();
        }
        w.roll().unwrap();
        w.append(&txn(6), None).unwrap();
        w.flush_and_sync().unwrap();
        let files = super::super::list_files(&dir, "log").unwrap();
        let newest = &files.last().unwrap().1;
        let entries: Vec<_> = TxnLogReader::open_file(newest)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(entries.len(), 1);
        let sole = &entries[0];
        let f = OpenOptions::new().write(true).open(newest).unwrap();
        f.write_all_at(&[0u8; 4], sole.offset + 12 + sole.raw.len() as u64 - 3)
            .unwrap();
        let mut r = TxnLogReader::open(&dir, 0).unwrap();
        assert_eq!(r.by_ref().inspect(|e| assert!(e.is_ok())).count(), 5);
        let t = r.torn_tails()[0].clone();
        assert_eq!((t.last_zxid, t.valid_len), (None, sole.offset));
        truncate_torn(&t).unwrap();
        assert_eq!(std::fs::metadata(newest).unwrap().len(), sole.offset);
        let mut r = TxnLogReader::open(&dir, 0).unwrap();
        assert_eq!(r.by_ref().count(), 5);
        assert!(r.torn_tails().is_empty());
    }

    #[test]
    fn write_read_roll_and_torn_tail() {
        let dir = tempdir();
        let opts = LogOptions {
            prealloc_size: 4096,
            ..Default::default()
        };
        let mut w = TxnLogWriter::new(&dir, opts).unwrap();
        for z in 1..=50 {
            let d = TxnDigest {
                version: 2,
                tree_digest: z * 11,
            };
            w.append(&txn(z), (z % 3 == 0).then_some(&d)).unwrap();
            if z % 10 == 0 {
                w.flush_and_sync().unwrap();
            }
            if z == 25 {
                w.roll().unwrap();
            }
        }
        w.flush_and_sync().unwrap();
        let files = super::super::list_files(&dir, "log").unwrap();
        assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 26]);
        let len1 = std::fs::metadata(&files[0].1).unwrap().len();
        assert_eq!(len1 % 4096, 16, "preallocated like Java");

        let all: Vec<_> = TxnLogReader::open(&dir, 0)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(all.len(), 50);
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.txn, txn(i as i64 + 1));
            assert_eq!(e.digest.is_some(), (i + 1) % 3 == 0);
        }
        let from: Vec<_> = TxnLogReader::open(&dir, 30)
            .unwrap()
            .map(|e| e.unwrap().txn.hdr.zxid)
            .collect();
        assert_eq!(from, (30..=50).collect::<Vec<_>>());

        // Tear the last record: zero its last bytes (EOR included) as a crash mid-write would.
        let last = all.last().unwrap();
        let end = last.offset + 12 + last.raw.len() as u64 + 1;
        let f = OpenOptions::new().write(true).open(&files[1].1).unwrap();
        f.write_all_at(&[0, 0, 0], end - 3).unwrap();
        let mut r = TxnLogReader::open(&dir, 0).unwrap();
        let n = r.by_ref().inspect(|e| assert!(e.is_ok())).count();
        assert_eq!(n, 49);
        assert_eq!(r.torn_tails().len(), 1);
        let t = r.torn_tails()[0].clone();
        assert_eq!(t.valid_len, last.offset);
        assert_eq!(t.last_zxid, Some(49));
        truncate_torn(&t).unwrap();
        let mut r = TxnLogReader::open(&dir, 0).unwrap();
        assert_eq!(r.by_ref().count(), 49);
        assert!(r.torn_tails().is_empty());
        assert_eq!(last_logged_zxid(&dir).unwrap(), 49);

        // A bad checksum in an older file is corruption.
        let first = &all[3];
        let f = OpenOptions::new().write(true).open(&files[0].1).unwrap();
        f.write_all_at(&[0xff], first.offset + 13).unwrap();
        let err = TxnLogReader::open(&dir, 0)
            .unwrap()
            .find_map(|e| e.err())
            .unwrap();
        assert!(err.to_string().contains("CRC"), "{err}");

        // A file created by a crash before its header: reported, then removed by recovery.
        let empty = dir.join("log.ff");
        std::fs::write(&empty, b"").unwrap();
        let mut r = TxnLogReader::open(&dir, 60).unwrap();
        assert!(r.next_entry().unwrap().is_none());
        assert_eq!(r.torn_tails()[0].valid_len, 0);
        truncate_torn(&r.torn_tails()[0]).unwrap();
        assert!(!empty.exists());

        truncate_after(&dir, 2).unwrap();
        let files = super::super::list_files(&dir, "log").unwrap();
        assert_eq!(files.len(), 1);
        let left: Vec<_> = TxnLogReader::open(&dir, 0)
            .unwrap()
            .map(|e| e.unwrap().txn.hdr.zxid)
            .collect();
        assert_eq!(left, vec![1, 2]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A log writer in `dir` that preallocates only 64 KiB per file.
    pub fn small_writer(dir: &Path) -> TxnLogWriter {
        TxnLogWriter::new(
            dir,
            LogOptions {
                prealloc_size: 64 * 1024,
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// A folder with one log of `n` txns (zxid 1..=n) and the entries as written.
    fn one_log(n: i64) -> (PathBuf, PathBuf, Vec<LogEntry>) {
        let dir = tempdir();
        let mut w = small_writer(&dir);
        for z in 1..=n {
            w.append(&txn(z), None).unwrap();
        }
        w.flush_and_sync().unwrap();
        let file = super::super::list_files(&dir, "log").unwrap()[0].1.clone();
        let all = TxnLogReader::open(&dir, 0)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        (dir, file, all)
    }

    fn end_of(e: &LogEntry) -> u64 {
        e.offset + 12 + e.raw.len() as u64 + 1
    }

    /// Read the folder: Ok(txn count, torn tails) or the error text.
    fn read_all(dir: &Path) -> std::result::Result<(usize, usize), String> {
        let mut r = TxnLogReader::open(dir, 0).unwrap();
        let mut n = 0;
        loop {
            match r.next_entry() {
                Ok(Some(_)) => n += 1,
                Ok(None) => return Ok((n, r.torn_tails().len())),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn only_a_provably_torn_tail_may_end_a_file() {
        let n = 40;
        let write = |f: &Path, at: u64, b: &[u8]| {
            let f = OpenOptions::new().write(true).open(f).unwrap();
            f.write_all_at(b, at).unwrap();
        };
        // Each case damages a fresh copy; None = must refuse, Some((count, torn)) = reads so.
        type Case = (
            &'static str,
            fn(&Path, &[LogEntry], &dyn Fn(&Path, u64, &[u8])),
            Option<(usize, usize)>,
        );
        let cases: Vec<Case> = vec![
            (
                "body flip mid-file",
                |f, e, w| w(f, e[20].offset + 14, &[0xee]),
                None,
            ),
            (
                "crc flip mid-file",
                |f, e, w| w(f, e[20].offset + 3, &[0xee]),
                None,
            ),
            (
                "length + 1 mid-file",
                |f, e, w| {
                    let l = e[20].raw.len() as i32 + 1;
                    w(f, e[20].offset + 8, &l.to_be_bytes())
                },
                None,
            ),
            (
                "length - 1 mid-file",
                |f, e, w| {
                    let l = e[20].raw.len() as i32 - 1;
                    w(f, e[20].offset + 8, &l.to_be_bytes())
                },
                None,
            ),
            (
                "length 0 mid-file",
                |f, e, w| w(f, e[20].offset + 8, &[0, 0, 0, 0]),
                None,
            ),
            (
                "length -1 mid-file",
                |f, e, w| w(f, e[20].offset + 8, &[0xff; 4]),
                None,
            ),
            (
                "header zeroed mid-file",
                |f, e, w| w(f, e[20].offset, &[0; 12]),
                None,
            ),
            (
                "record zeroed mid-file",
                |f, e, w| {
                    w(
                        f,
                        e[20].offset,
                        &vec![0; (end_of(&e[20]) - e[20].offset) as usize],
                    )
                },
                None,
            ),
            (
                "end byte flip mid-file",
                |f, e, w| w(f, end_of(&e[20]) - 1, &[0x43]),
                None,
            ),
            (
                "body flip in the last record",
                |f, e, w| w(f, e[39].offset + 14, &[0xee]),
                None,
            ),
            (
                "end byte flip in the last record",
                |f, e, w| w(f, end_of(&e[39]) - 1, &[0x41]),
                None,
            ),
            (
                "length + 100 in the last record",
                |f, e, w| {
                    let l = e[39].raw.len() as i32 + 100;
                    w(f, e[39].offset + 8, &l.to_be_bytes())
                },
                None,
            ),
            (
                "length * 2^16 in the last record",
                |f, e, w| {
                    let l = (e[39].raw.len() as i32) << 16;
                    w(f, e[39].offset + 8, &l.to_be_bytes())
                },
                None,
            ),
            (
                "garbage after the preallocated zeros",
                |f, e, w| w(f, end_of(&e[39]) + 5000, &[1]),
                None,
            ),
            // Torn: an unacknowledged record after the last one, cut short by a crash.
            (
                "partial header appended",
                |f, e, w| w(f, end_of(&e[39]), &[0, 0, 0, 0, 0x12, 0x34]),
                Some((40, 1)),
            ),
            (
                "header and half a body appended",
                |f, e, w| {
                    let mut rec = Vec::new();
                    frame_entry(&e[39].raw, &mut rec);
                    w(f, end_of(&e[39]), &rec[..rec.len() / 2])
                },
                Some((40, 1)),
            ),
            (
                "whole record but its end byte appended",
                |f, e, w| {
                    let mut rec = Vec::new();
                    frame_entry(&e[39].raw, &mut rec);
                    w(f, end_of(&e[39]), &rec[..rec.len() - 1])
                },
                Some((40, 1)),
            ),
            ("nothing damaged", |_, _, _| {}, Some((40, 0))),
        ];
        for (name, damage, want) in cases {
            let (dir, file, entries) = one_log(n);
            damage(&file, &entries, &write);
            let got = read_all(&dir);
            match want {
                Some(w) => assert_eq!(got, Ok(w), "{name}"),
                None => {
                    let e = got.expect_err(name);
                    assert!(e.contains(&file.display().to_string()), "{name}: {e}");
                    assert!(e.contains("offset"), "{name}: {e}");
                    assert!(e.contains("zk-logdump truncate --zxid"), "{name}: {e}");
                }
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
        // The same torn record at the end of a file that was cut (no preallocation left).
        let (dir, file, e) = one_log(n);
        let mut rec = Vec::new();
        frame_entry(&e[39].raw, &mut rec);
        write(&file, end_of(&e[39]), &rec[..rec.len() - 5]);
        let f = OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(end_of(&e[39]) + rec.len() as u64 - 5).unwrap();
        assert_eq!(read_all(&dir), Ok((40, 1)));
        // The operator's cut: keep 1..=20, then the file reads clean.
        write(&file, e[20].offset + 14, &[0xee]);
        let err = read_all(&dir).unwrap_err();
        assert!(err.contains("after zxid 0x14"), "{err}");
        assert!(truncate_file_after(&file, 0x30).is_err(), "past the damage");
        let (len, cut) = truncate_file_after(&file, 20).unwrap();
        assert_eq!(len, end_of(&e[19]));
        assert!(cut > 0);
        assert_eq!(read_all(&dir), Ok((20, 0)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn classify_tail_rules() {
        let mut rec = Vec::new();
        frame_entry(b"hello world, a record body", &mut rec);
        let n = rec.len() as u64;
        assert_eq!(classify_tail(&[], 0, 100), Tail::Clean);
        assert!(matches!(classify_tail(&rec[..5], 5, 100), Tail::Torn(_)));
        assert!(matches!(classify_tail(&rec[..20], 20, 100), Tail::Torn(_)));
        assert!(matches!(classify_tail(&rec[..20], 20, 20), Tail::Torn(_)));
        assert!(matches!(
            classify_tail(&rec[..n as usize - 1], n - 1, n - 1),
            Tail::Torn(_)
        ));
        // Complete: a record that reached classify_tail is damaged.
        assert!(matches!(classify_tail(&rec, n, 1000), Tail::Corrupt(_)));
        assert!(matches!(
            classify_tail(&rec, n + 10, 1000),
            Tail::Corrupt(_)
        ));
        let mut zero_len = rec.clone();
        zero_len[8..12].fill(0);
        assert!(matches!(
            classify_tail(&zero_len, n, 1000),
            Tail::Corrupt(_)
        ));
        let mut huge = rec.clone();
        huge[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(classify_tail(&huge, n, 1000), Tail::Corrupt(_)));
        // A length pointing past a valid record's end is a damaged length, not a torn write.
        let mut longer = rec.clone();
        longer[8..12].copy_from_slice(&(n as i32 + 50).to_be_bytes());
        assert!(matches!(classify_tail(&longer, n, 1000), Tail::Corrupt(_)));
        assert!(matches!(classify_tail(&longer, n, n), Tail::Corrupt(_)));
    }

    pub(crate) fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "zkrs-persist-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
