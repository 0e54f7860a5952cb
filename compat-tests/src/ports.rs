//! Ports for servers under test: below the kernel's ephemeral range and reserved for this
//! process.
//!
//! Binding port 0 and closing it again gives a port in the ephemeral range. Until the server
//! under test binds that port, any outgoing connection of a parallel test may take it as its
//! local port (a client, a Java server's peer connections), and the server then fails with
//! "Address already in use". Below the range only explicit binds take ports. Each port
//! handed out is reserved against the other processes of the suite by an exclusive lock on
//! `/tmp/zkrs-test-ports/<port>` (the same files as compat-tests/python/zkharness.py), held
//! until this process exits.

use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

const LOCK_DIR: &str = "/tmp/zkrs-test-ports";
const LOW: u16 = 10_000;

struct Reserved {
    locks: Vec<(u16, File)>,
    rng: u64,
}

static RESERVED: Mutex<Reserved> = Mutex::new(Reserved {
    locks: Vec::new(),
    rng: 0,
});

/// The lowest ephemeral port (`ip_local_port_range`), 32768 when it cannot be read.
fn ephemeral_low() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ ((std::process::id() as u64) << 32)) | 1
}

/// xorshift64: enough to spread the tries of concurrent processes.
fn next(rng: &mut u64) -> u64 {
    if *rng == 0 {
        *rng = seed();
    }
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

/// A free TCP port on 127.0.0.1 below the ephemeral range, never handed out twice by this
/// process nor at the same time to another process that uses this scheme.
pub fn free_port() -> io::Result<u16> {
    let high = ephemeral_low();
    if high <= LOW + 1000 {
        // No room below the range: the kernel's choice, as before.
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        return Ok(l.local_addr()?.port());
    }
    fs::create_dir_all(LOCK_DIR)?;
    let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = LOW + (next(&mut reserved.rng) % u64::from(high - LOW)) as u16;
        if reserved.locks.iter().any(|(p, _)| *p == port) {
            continue;
        }
        let lock = File::create(format!("{LOCK_DIR}/{port}"))?;
        if lock.try_lock().is_err() {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        reserved.locks.push((port, lock));
        return Ok(port);
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free port below the ephemeral range",
    ))
}

/// [`free_port`] for tests, which panic when there is none.
pub fn test_port() -> u16 {
    free_port().expect("a free test port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len());
        for p in ports {
            assert!(p >= LOW && p < ephemeral_low(), "{p}");
            // Reserved: another open of the lock file cannot lock it.
            let other = File::create(format!("{LOCK_DIR}/{p}")).unwrap();
            assert!(other.try_lock().is_err(), "{p} not locked");
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap();
        }
    }
}
