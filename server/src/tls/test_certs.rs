//! Tests only: a CA and certificates it signed, made with the `openssl` command into a fresh
//! directory (keys are never committed), and an in-memory TLS handshake between two rustls
//! configurations.

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub struct Dir(pub PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Dir {
    pub fn new(tag: &str) -> Dir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("zkrs-tls-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `NAME-ca.pem` (a self-signed CA) and `NAME-ca.key`.
pub fn ca(dir: &Dir, name: &str) {
    openssl(
        &dir.0,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} CA"),
        ],
    );
}

/// `NAME.pem`: key and certificate (Java's PEM key store layout), signed by `CA-ca`, with
/// `subject` (openssl's `/A=b/C=d` form, `-multivalue-rdn` on) and `san` (`IP:127.0.0.1`).
/// `days` -1 makes it expired.
pub fn leaf(dir: &Dir, ca: &str, name: &str, subject: &str, san: &str, days: i32) {
    openssl(
        &dir.0,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-utf8",
            "-multivalue-rdn",
            "-subj",
            subject,
        ],
    );
    std::fs::write(
        dir.path(&format!("{name}.ext")),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    openssl(
        &dir.0,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
            "-days",
            &days.to_string(),
        ],
    );
    let key = std::fs::read(dir.path(&format!("{name}.key"))).unwrap();
    let crt = std::fs::read(dir.path(&format!("{name}.crt"))).unwrap();
    std::fs::write(dir.path(&format!("{name}.pem")), [key, crt].concat()).unwrap();
}

/// Run a handshake in memory; `Ok` with the server side when both ends finished.
pub fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> Result<ServerConnection, String> {
    let mut s = ServerConnection::new(server).map_err(|e| e.to_string())?;
    let mut c = ClientConnection::new(client, ServerName::try_from(name.to_string()).unwrap())
        .map_err(|e| e.to_string())?;
    for _ in 0..20 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets()
                .map_err(|e| format!("server: {e}"))?;
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut &buf[..]).unwrap();
            c.process_new_packets()
                .map_err(|e| format!("client: {e}"))?;
        }
        if !s.is_handshaking() && !c.is_handshaking() && !c.wants_write() {
            return Ok(s);
        }
    }
    Err("handshake did not finish".into())
}
