//! Stores made at test time by the tools operators use (openssl, Java 17's keytool), loaded,
//! and shown to work: a rustls server built from the key store completes a handshake with a
//! rustls client that trusts the trust store. Missing tools fail the tests, never skip them.

use super::*;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

const PASS: &str = "s3cret-pw";

/// Makes, once per test run: a CA, a leaf for localhost (EC P-256) and every store.
const SCRIPT: &str = r#"
set -e
P=s3cret-pw
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
  -out ca.pem -subj /CN=test-ca -days 2 2>/dev/null
leaf() { # name keyalg-args...
  n=$1; shift
  openssl req -newkey "$@" -nodes -keyout $n.key -out $n.csr -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost\n' > san.ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.crt -days 2 \
    -extfile san.ext 2>/dev/null
  cat $n.crt ca.pem > $n.chain
}
leaf ec ec -pkeyopt ec_paramgen_curve:P-256
leaf rsa rsa:2048
leaf ed ed25519
leaf p521 ec -pkeyopt ec_paramgen_curve:P-521
leaf rsa1024 rsa:1024
# PEM key stores
cat ec.key ec.chain > ec-pkcs8.pem
openssl pkcs8 -topk8 -v2 aes-256-cbc -in ec.key -passout pass:$P > ec-enc.key
cat ec-enc.key ec.chain > ec-enc.pem
openssl pkcs8 -topk8 -v2 des3 -v2prf hmacWithSHA1 -in ec.key -passout pass:$P > ec-enc3.key
cat ec-enc3.key ec.chain > ec-enc3des.pem
openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in rsa.key -passout pass:$P > rsa-pbe.key
cat rsa-pbe.key rsa.chain > rsa-pbe-sha1-3des.pem
openssl rsa -in rsa.key -traditional -out rsa1.key 2>/dev/null
cat rsa1.key rsa.chain > rsa-pkcs1.pem
openssl ec -in ec.key -out ec1.key 2>/dev/null
cat ec1.key ec.chain > ec-sec1.pem
cat ed.key ed.chain > ed.pem
cat p521.key p521.chain > p521.pem
cat rsa1024.key rsa1024.chain > rsa1024.pem
openssl rsa -in rsa.key -traditional -aes256 -passout pass:$P -out rsa-legacy.key 2>/dev/null
cat rsa-legacy.key rsa.chain > rsa-legacy-enc.pem
# PKCS12 by openssl: modern (PBES2, AES-256, SHA-256 MAC) and legacy (RC2-40, 3DES, SHA-1)
openssl pkcs12 -export -inkey rsa.key -in rsa.crt -certfile ca.pem -name server \
  -out ossl-modern.p12 -passout pass:$P
openssl pkcs12 -export -legacy -inkey ec.key -in ec.crt -certfile ca.pem -name server \
  -out ossl-legacy.p12 -passout pass:$P
openssl pkcs12 -export -nokeys -in ca.pem -out ossl-trust.p12 -passout pass:$P
# keytool: PKCS12 (Java 17 default: PBES2) and JKS key stores, trust stores of both kinds
keytool -importkeystore -noprompt -srckeystore ossl-modern.p12 -srcstoretype PKCS12 \
  -srcstorepass $P -destkeystore kt-ks.p12 -deststoretype PKCS12 -deststorepass $P >/dev/null 2>&1
keytool -importkeystore -noprompt -srckeystore ossl-modern.p12 -srcstoretype PKCS12 \
  -srcstorepass $P -destkeystore kt-ks.jks -deststoretype JKS -deststorepass $P >/dev/null 2>&1
keytool -importcert -noprompt -alias ca -file ca.pem -keystore kt-trust.p12 \
  -storetype PKCS12 -storepass $P >/dev/null 2>&1
keytool -importcert -noprompt -alias ca -file ca.pem -keystore kt-trust.jks \
  -storetype JKS -storepass $P >/dev/null 2>&1
# Java 9+ reads a PKCS12 file named .jks (keystore.type.compat)
cp kt-ks.p12 p12-named.jks
cp kt-ks.jks jks-named.p12
# A JKS key whose password is not the store's; a DSA key (rustls cannot sign with it)
keytool -genkeypair -alias k -keyalg EC -dname CN=x -keystore keypass.jks -storetype JKS \
  -storepass $P -keypass other-pw >/dev/null 2>&1
keytool -genkeypair -alias d -keyalg DSA -dname CN=x -keystore dsa.p12 -storetype PKCS12 \
  -storepass $P >/dev/null 2>&1
: > empty.p12
printf '%s\n' "$P" > pw.txt
printf '%s' "$P" > pw-nonl.txt
printf '%s\n\n' "$P" > pw-2nl.txt
"#;

fn stores() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zkrs-keystore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for tool in ["openssl", "keytool"] {
            let found = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                found,
                "{tool} is needed to make the test stores (tools/install-deps.sh installs it)"
            );
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .current_dir(&dir)
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "making the stores failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn file(name: &str) -> PathBuf {
    stores().join(name)
}

fn key_store(name: &str, password: Option<&str>) -> Result<KeyMaterial, String> {
    let path = file(name);
    let ty = StoreType::resolve(None, &path)?;
    load_key_store(&path, password, ty)
}

fn trust_store(name: &str, password: Option<&str>) -> Result<Vec<CertificateDer<'static>>, String> {
    let path = file(name);
    let ty = StoreType::resolve(None, &path)?;
    load_trust_store(&path, password, ty)
}

/// A full TLS handshake in memory: a server with `key`, a client trusting `roots`.
fn handshake(key: KeyMaterial, roots: Vec<CertificateDer<'static>>) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(key.chain, key.key)
        .map_err(|e| format!("server config: {e}"))?;
    let mut root_store = RootCertStore::empty();
    for c in roots {
        root_store.add(c).map_err(|e| e.to_string())?;
    }
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(root_store)
        .with_no_client_auth();
    let mut c = ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap())
        .map_err(|e| e.to_string())?;
    let mut s = ServerConnection::new(Arc::new(server)).map_err(|e| e.to_string())?;
    for _ in 0..10 {
        let mut buf = Vec::new();
        c.write_tls(&mut buf).unwrap();
        s.read_tls(&mut &buf[..]).unwrap();
        s.process_new_packets()
            .map_err(|e| format!("server: {e}"))?;
        let mut buf = Vec::new();
        s.write_tls(&mut buf).unwrap();
        c.read_tls(&mut &buf[..]).unwrap();
        c.process_new_packets()
            .map_err(|e| format!("client: {e}"))?;
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    Err("handshake did not finish".to_string())
}

#[test]
fn every_key_store_serves_a_handshake() {
    let roots = trust_store("ca.pem", None).unwrap();
    let cases = [
        ("ec-pkcs8.pem", None),
        ("ec-enc.pem", Some(PASS)),
        ("ec-enc3des.pem", Some(PASS)),
        ("rsa-pbe-sha1-3des.pem", Some(PASS)),
        ("rsa-pkcs1.pem", None),
        ("ec-sec1.pem", None),
        ("ed.pem", None),
        ("ossl-modern.p12", Some(PASS)),
        ("ossl-legacy.p12", Some(PASS)),
        ("kt-ks.p12", Some(PASS)),
        ("kt-ks.jks", Some(PASS)),
        ("p12-named.jks", Some(PASS)),
        ("jks-named.p12", Some(PASS)),
    ];
    for (name, password) in cases {
        let key = key_store(name, password).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.chain.len(), 2, "{name}: leaf and CA");
        handshake(key, roots.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn trust_stores_as_java_reads_them() {
    let ca = trust_store("ca.pem", None).unwrap();
    assert_eq!(ca.len(), 1);
    for name in ["kt-trust.p12", "kt-trust.jks"] {
        let certs = trust_store(name, Some(PASS)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(certs, ca, "{name}");
        let key = key_store("ec-pkcs8.pem", None).unwrap();
        handshake(key, certs).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // openssl writes no trusted-key-usage attribute: Java trusts nothing in it.
    let e = trust_store("ossl-trust.p12", Some(PASS)).unwrap_err();
    assert!(
        e.contains("trustAnchors parameter must be non-empty"),
        "{e}"
    );
    assert!(e.contains("keytool -importcert"), "{e}");
    // A key store's chain is no trust anchor either.
    let e = trust_store("kt-ks.jks", Some(PASS)).unwrap_err();
    assert!(e.contains("no trusted certificate"), "{e}");
    // A key store used as a trust store in PEM: every certificate is trusted, as in Java.
    assert_eq!(trust_store("ec-pkcs8.pem", None).unwrap().len(), 2);
}

#[test]
fn wrong_or_missing_passwords() {
    let e = key_store("kt-ks.jks", Some("nope")).unwrap_err();
    assert!(
        e.contains("Keystore was tampered with, or password was incorrect"),
        "{e}"
    );
    // Java's key manager recovers keys with the store password.
    let e = key_store("keypass.jks", Some(PASS)).unwrap_err();
    assert!(e.contains("Cannot recover key"), "{e}");
    let e = key_store("kt-ks.jks", None).unwrap_err();
    assert!(e.contains("password was incorrect"), "{e}");
    for name in ["kt-ks.p12", "ossl-legacy.p12", "ossl-modern.p12"] {
        let e = key_store(name, Some("nope")).unwrap_err();
        assert!(e.contains("keystore password was incorrect"), "{name}: {e}");
    }
    let e = key_store("ec-enc.pem", Some("nope")).unwrap_err();
    assert!(e.contains("cannot decrypt the private key"), "{e}");
    let e = key_store("rsa-pbe-sha1-3des.pem", Some("nope")).unwrap_err();
    assert!(e.contains("cannot decrypt the private key"), "{e}");
    let e = key_store("ec-enc.pem", None).unwrap_err();
    assert!(e.contains("encrypted and no key store password"), "{e}");
    // An unencrypted key with a password set: Java fails, we load it.
    key_store("ec-pkcs8.pem", Some(PASS)).unwrap();
    let e = key_store("rsa-legacy-enc.pem", Some(PASS)).unwrap_err();
    assert!(e.contains("legacy PEM encryption"), "{e}");
}

#[test]
fn key_types_rustls_cannot_serve_fail_clearly() {
    let e = key_store("p521.pem", None).unwrap_err();
    assert!(e.contains("unsupported private key (EC P-521)"), "{e}");
    let e = key_store("rsa1024.pem", None).unwrap_err();
    assert!(e.contains("unsupported private key (RSA)"), "{e}");
    let e = key_store("dsa.p12", Some(PASS)).unwrap_err();
    assert!(e.contains("unsupported private key (DSA)"), "{e}");
}

#[test]
fn stores_without_what_is_needed() {
    let e = key_store("kt-trust.p12", Some(PASS)).unwrap_err();
    assert!(e.contains("no private key entry"), "{e}");
    let e = key_store("kt-trust.jks", Some(PASS)).unwrap_err();
    assert!(e.contains("no private key entry"), "{e}");
    let e = key_store("ca.pem", None).unwrap_err();
    assert!(e.contains("did not find a private key"), "{e}");
    let e = key_store("empty.p12", Some(PASS)).unwrap_err();
    assert!(e.contains("Invalid keystore format"), "{e}");
    let e = trust_store("ec.key", None).unwrap_err();
    assert!(e.contains("Unable to auto-detect"), "{e}");
    let path = file("ec.key");
    let e = load_trust_store(&path, None, StoreType::Pem).unwrap_err();
    assert!(e.contains("no certificate"), "{e}");
    let e = load_key_store(&file("ca.pem"), None, StoreType::Bcfks).unwrap_err();
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn password_path_as_secret_utils_reads_it() {
    let read = |name: &str| store_password(Some("ignored"), Some(&file(name))).unwrap();
    assert_eq!(read("pw.txt").as_deref(), Some(PASS), "one newline removed");
    assert_eq!(read("pw-nonl.txt").as_deref(), Some(PASS));
    assert_eq!(
        read("pw-2nl.txt").as_deref(),
        Some(&*format!("{PASS}\n")),
        "only one line separator is removed"
    );
    assert_eq!(
        store_password(Some("p"), None).unwrap().as_deref(),
        Some("p")
    );
    assert_eq!(store_password(None, None).unwrap(), None);
    let e = store_password(None, Some(&file("missing.txt"))).unwrap_err();
    assert!(
        e.contains("Exception occurred when reading secret from file"),
        "{e}"
    );
    let pw = read("pw.txt");
    key_store("kt-ks.jks", pw.as_deref()).unwrap();
}

/// Mutated stores (truncated, bytes changed, lengths made huge): an error, never a panic.
#[test]
fn mutated_stores_are_errors_not_panics() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for (name, ty, rounds) in [
        ("kt-ks.jks", StoreType::Jks, 3000),
        ("kt-trust.jks", StoreType::Jks, 1000),
        ("ec-enc.pem", StoreType::Pem, 400),
        ("ec-pkcs8.pem", StoreType::Pem, 400),
        ("rsa-pbe-sha1-3des.pem", StoreType::Pem, 200),
        // PKCS12 costs a key derivation per try.
        ("kt-ks.p12", StoreType::Pkcs12, 150),
        ("ossl-legacy.p12", StoreType::Pkcs12, 150),
    ] {
        let original = std::fs::read(file(name)).unwrap();
        let path = stores().join(format!("mutated-{name}"));
        for round in 0..rounds {
            let mut bytes = original.clone();
            match round % 4 {
                0 => bytes.truncate(next() as usize % bytes.len()),
                1 => {
                    for _ in 0..1 + next() % 4 {
                        let i = next() as usize % bytes.len();
                        bytes[i] = next() as u8;
                    }
                }
                2 => {
                    let i = next() as usize % (bytes.len() - 4);
                    bytes[i..i + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
                }
                _ => {
                    let i = next() as usize % bytes.len();
                    bytes[i] = 0x84;
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            // Either answer is fine (a flipped byte may sit where nothing checks it, as in a
            // certificate's signature); what is tested is that it returns.
            let _ = load_key_store(&path, Some(PASS), ty);
            let _ = load_trust_store(&path, Some(PASS), ty);
        }
    }
    // Whole-file corruption the MAC or digest must catch.
    let mut jks = std::fs::read(file("kt-ks.jks")).unwrap();
    let mid = jks.len() / 2;
    jks[mid] ^= 1;
    let path = stores().join("flipped.jks");
    std::fs::write(&path, &jks).unwrap();
    let e = load_key_store(&path, Some(PASS), StoreType::Jks).unwrap_err();
    assert!(e.contains("tampered"), "{e}");
}
