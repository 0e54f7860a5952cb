//! The system's MIT GSS-API library (`libgssapi_krb5.so.2`), loaded at run time and wrapped in
//! a small safe API: an acceptor credential from a keytab, and acceptor contexts that take
//! context tokens and wrap / unwrap messages.
//!
//! Why hand-written and `dlopen`ed: the GSS-API C interface is stable (RFC 2744) and we need a
//! dozen calls; the crates that wrap it generate their bindings with bindgen (libclang) at
//! build time, and linking at build time would make every zkserver need a Kerberos library.
//! This module is loaded only when a JAAS `Server` section names `Krb5LoginModule`.
//!
//! The quorum's learner also needs the initiator side: a credential obtained with a client
//! keytab into a private in-memory cache, and initiator contexts.
//!
//! Every `unsafe` block is here, each with its `SAFETY:` reason; callers see `Result`s whose
//! errors carry `gss_display_status` text.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;
use std::sync::{Arc, OnceLock};

type Status = u32;
type Name = *mut c_void;
type Cred = *mut c_void;
type Ctx = *mut c_void;

#[repr(C)]
struct Buffer {
    length: usize,
    value: *mut c_void,
}

impl Buffer {
    fn empty() -> Buffer {
        Buffer {
            length: 0,
            value: ptr::null_mut(),
        }
    }

    /// A borrowed input buffer: GSS-API never writes through an input token.
    fn input(bytes: &[u8]) -> Buffer {
        Buffer {
            length: bytes.len(),
            value: bytes.as_ptr() as *mut c_void,
        }
    }
}

#[repr(C)]
struct Oid {
    length: u32,
    elements: *const c_void,
}

#[repr(C)]
struct OidSet {
    count: usize,
    elements: *const Oid,
}

#[repr(C)]
struct KeyValue {
    key: *const c_char,
    value: *const c_char,
}

#[repr(C)]
struct KeyValueSet {
    count: u32,
    elements: *const KeyValue,
}

/// 1.2.840.113554.1.2.2, the Kerberos V5 mechanism.
const KRB5_MECH: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
/// 1.2.840.113554.1.2.2.1, GSS_KRB5_NT_PRINCIPAL_NAME (`primary/instance@REALM`).
const KRB5_NT_PRINCIPAL_NAME: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01";

const GSS_C_INITIATE: c_int = 1;
const GSS_C_ACCEPT: c_int = 2;
/// What the JDK's `GssKrb5Client` asks for: mutual authentication, integrity, confidentiality.
const GSS_C_MUTUAL_FLAG: u32 = 2;
const GSS_C_CONF_FLAG: u32 = 16;
const GSS_C_INTEG_FLAG: u32 = 32;
const GSS_C_INDEFINITE: u32 = 0xffff_ffff;
const GSS_C_GSS_CODE: c_int = 1;
const GSS_C_MECH_CODE: c_int = 2;
const GSS_S_CONTINUE_NEEDED: Status = 1;

fn is_error(major: Status) -> bool {
    major & 0xffff_0000 != 0
}

fn oid(bytes: &'static [u8]) -> Oid {
    Oid {
        length: bytes.len() as u32,
        elements: bytes.as_ptr() as *const c_void,
    }
}

type AcquireCredFrom = unsafe extern "C" fn(
    *mut Status,
    Name,
    u32,
    *const OidSet,
    c_int,
    *const KeyValueSet,
    *mut Cred,
    *mut c_void,
    *mut u32,
) -> Status;
type ImportName = unsafe extern "C" fn(*mut Status, *const Buffer, *const Oid, *mut Name) -> Status;
type AcceptSecContext = unsafe extern "C" fn(
    *mut Status,
    *mut Ctx,
    Cred,
    *const Buffer,
    *const c_void,
    *mut Name,
    *mut *const Oid,
    *mut Buffer,
    *mut u32,
    *mut u32,
    *mut Cred,
) -> Status;
type InitSecContext = unsafe extern "C" fn(
    *mut Status,
    Cred,
    *mut Ctx,
    Name,
    *const Oid,
    u32,
    u32,
    *const c_void,
    *const Buffer,
    *mut *const Oid,
    *mut Buffer,
    *mut u32,
    *mut u32,
) -> Status;
type InquireCred =
    unsafe extern "C" fn(*mut Status, Cred, *mut Name, *mut u32, *mut c_int, *mut c_void) -> Status;
type CanonicalizeName = unsafe extern "C" fn(*mut Status, Name, *const Oid, *mut Name) -> Status;
type DisplayName = unsafe extern "C" fn(*mut Status, Name, *mut Buffer, *mut *const Oid) -> Status;
type Wrap = unsafe extern "C" fn(
    *mut Status,
    Ctx,
    c_int,
    u32,
    *const Buffer,
    *mut c_int,
    *mut Buffer,
) -> Status;
type Unwrap = unsafe extern "C" fn(
    *mut Status,
    Ctx,
    *const Buffer,
    *mut Buffer,
    *mut c_int,
    *mut u32,
) -> Status;
type ReleaseBuffer = unsafe extern "C" fn(*mut Status, *mut Buffer) -> Status;
type ReleaseName = unsafe extern "C" fn(*mut Status, *mut Name) -> Status;
type ReleaseCred = unsafe extern "C" fn(*mut Status, *mut Cred) -> Status;
type DeleteSecContext = unsafe extern "C" fn(*mut Status, *mut Ctx, *mut Buffer) -> Status;
type DisplayStatus =
    unsafe extern "C" fn(*mut Status, Status, c_int, *const Oid, *mut u32, *mut Buffer) -> Status;

/// The library's entry points we use. Loaded once, never unloaded.
struct Gss {
    acquire_cred_from: AcquireCredFrom,
    import_name: ImportName,
    canonicalize_name: CanonicalizeName,
    accept_sec_context: AcceptSecContext,
    init_sec_context: InitSecContext,
    inquire_cred: InquireCred,
    display_name: DisplayName,
    wrap: Wrap,
    unwrap: Unwrap,
    release_buffer: ReleaseBuffer,
    release_name: ReleaseName,
    release_cred: ReleaseCred,
    delete_sec_context: DeleteSecContext,
    display_status: DisplayStatus,
}

const LIBRARY: &str = "libgssapi_krb5.so.2";

fn gss() -> Result<&'static Gss, String> {
    static GSS: OnceLock<Result<Gss, String>> = OnceLock::new();
    GSS.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Gss, String> {
    let path = CString::new(LIBRARY).expect("constant has no NUL");
    // SAFETY: dlopen with a NUL-terminated name; MIT's library has no constructors with
    // preconditions. The handle is never closed, so the symbols stay valid for 'static.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(format!("cannot load {LIBRARY}: {}", dl_error()));
    }
    let sym = |name: &str| -> Result<*mut c_void, String> {
        let c = CString::new(name).expect("symbol names have no NUL");
        // SAFETY: handle is a live dlopen handle, c a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
        if p.is_null() {
            Err(format!("{LIBRARY} has no {name}"))
        } else {
            Ok(p)
        }
    };
    // SAFETY: each symbol is the RFC 2744 / MIT (gssapi_ext.h) function of that name, whose C
    // prototype the matching type alias above spells out for LP64 Linux.
    unsafe {
        Ok(Gss {
            acquire_cred_from: std::mem::transmute::<*mut c_void, AcquireCredFrom>(sym(
                "gss_acquire_cred_from",
            )?),
            import_name: std::mem::transmute::<*mut c_void, ImportName>(sym("gss_import_name")?),
            canonicalize_name: std::mem::transmute::<*mut c_void, CanonicalizeName>(sym(
                "gss_canonicalize_name",
            )?),
            accept_sec_context: std::mem::transmute::<*mut c_void, AcceptSecContext>(sym(
                "gss_accept_sec_context",
            )?),
            init_sec_context: std::mem::transmute::<*mut c_void, InitSecContext>(sym(
                "gss_init_sec_context",
            )?),
            inquire_cred: std::mem::transmute::<*mut c_void, InquireCred>(sym("gss_inquire_cred")?),
            display_name: std::mem::transmute::<*mut c_void, DisplayName>(sym("gss_display_name")?),
            wrap: std::mem::transmute::<*mut c_void, Wrap>(sym("gss_wrap")?),
            unwrap: std::mem::transmute::<*mut c_void, Unwrap>(sym("gss_unwrap")?),
            release_buffer: std::mem::transmute::<*mut c_void, ReleaseBuffer>(sym(
                "gss_release_buffer",
            )?),
            release_name: std::mem::transmute::<*mut c_void, ReleaseName>(sym("gss_release_name")?),
            release_cred: std::mem::transmute::<*mut c_void, ReleaseCred>(sym("gss_release_cred")?),
            delete_sec_context: std::mem::transmute::<*mut c_void, DeleteSecContext>(sym(
                "gss_delete_sec_context",
            )?),
            display_status: std::mem::transmute::<*mut c_void, DisplayStatus>(sym(
                "gss_display_status",
            )?),
        })
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".to_string()
        } else {
            std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

impl Gss {
    /// Copies a library-owned buffer out and releases it.
    fn take(&self, buf: &mut Buffer) -> Vec<u8> {
        let out = if buf.value.is_null() || buf.length == 0 {
            Vec::new()
        } else {
            // SAFETY: the library filled `buf` with `length` readable bytes at `value`.
            unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length).to_vec() }
        };
        let mut minor = 0;
        // SAFETY: `buf` was filled by the library (or is empty); released exactly once here.
        unsafe { (self.release_buffer)(&mut minor, buf) };
        *buf = Buffer::empty();
        out
    }

    /// `gss_display_status` text for a failed call, major and minor codes.
    fn error(&self, call: &str, major: Status, minor: Status) -> String {
        let mut parts = Vec::new();
        let mech = oid(KRB5_MECH);
        for (code, kind) in [(major, GSS_C_GSS_CODE), (minor, GSS_C_MECH_CODE)] {
            if code == 0 {
                continue;
            }
            let mut context = 0u32;
            // Bounded: the library chains a few messages at most; guard against a loop.
            for _ in 0..8 {
                let mut m = 0;
                let mut buf = Buffer::empty();
                // SAFETY: out-pointers to locals; mech points at a static OID.
                let r = unsafe {
                    (self.display_status)(&mut m, code, kind, &mech, &mut context, &mut buf)
                };
                if is_error(r) {
                    break;
                }
                let text = self.take(&mut buf);
                parts.push(String::from_utf8_lossy(&text).into_owned());
                if context == 0 {
                    break;
                }
            }
        }
        format!("{call}: {}", parts.join(", "))
    }

    fn import_principal(&self, principal: &str) -> Result<Name, String> {
        let nt = oid(KRB5_NT_PRINCIPAL_NAME);
        let input = Buffer::input(principal.as_bytes());
        let mut name: Name = ptr::null_mut();
        let mut minor = 0;
        // SAFETY: input borrows `principal` for the call; nt a static OID; name an out-pointer.
        let major = unsafe { (self.import_name)(&mut minor, &input, &nt, &mut name) };
        if is_error(major) {
            return Err(self.error("gss_import_name", major, minor));
        }
        Ok(name)
    }

    fn display(&self, name: Name) -> Result<String, String> {
        let mut minor = 0;
        let mut buf = Buffer::empty();
        // SAFETY: name is a live name handle; out-pointers to locals.
        let major = unsafe { (self.display_name)(&mut minor, name, &mut buf, ptr::null_mut()) };
        if is_error(major) {
            return Err(self.error("gss_display_name", major, minor));
        }
        Ok(String::from_utf8_lossy(&self.take(&mut buf)).into_owned())
    }

    /// Integrity-protects `message` on an established context (no confidentiality).
    fn wrap(&self, ctx: Ctx, message: &[u8]) -> Result<Vec<u8>, String> {
        let input = Buffer::input(message);
        let mut output = Buffer::empty();
        let mut minor = 0;
        let mut conf_state = 0;
        // SAFETY: ctx is an established context of the caller; input borrows `message`.
        let major =
            unsafe { (self.wrap)(&mut minor, ctx, 0, 0, &input, &mut conf_state, &mut output) };
        let out = self.take(&mut output);
        if is_error(major) {
            return Err(self.error("gss_wrap", major, minor));
        }
        Ok(out)
    }

    fn unwrap(&self, ctx: Ctx, token: &[u8]) -> Result<Vec<u8>, String> {
        let input = Buffer::input(token);
        let mut output = Buffer::empty();
        let mut minor = 0;
        let mut conf_state = 0;
        let mut qop = 0u32;
        // SAFETY: ctx is an established context of the caller; input borrows `token`.
        let major = unsafe {
            (self.unwrap)(
                &mut minor,
                ctx,
                &input,
                &mut output,
                &mut conf_state,
                &mut qop,
            )
        };
        let out = self.take(&mut output);
        if is_error(major) {
            return Err(self.error("gss_unwrap", major, minor));
        }
        Ok(out)
    }

    fn release_name_handle(&self, name: &mut Name) {
        if !name.is_null() {
            let mut minor = 0;
            // SAFETY: a live name handle from import_name / accept_sec_context, released once.
            unsafe { (self.release_name)(&mut minor, name) };
            *name = ptr::null_mut();
        }
    }
}

/// The realm `principal` gets when it names none (krb5.conf's `default_realm`), as the library
/// parses it; `None` when there is no Kerberos configuration.
pub fn default_realm() -> Option<String> {
    let gss = gss().ok()?;
    let mut name = gss.import_principal("zk-rs-realm-probe").ok()?;
    // An imported name displays as given; its Kerberos form carries the realm.
    let mech = oid(KRB5_MECH);
    let mut canonical: Name = ptr::null_mut();
    let mut minor = 0;
    // SAFETY: name is a live name handle, mech a static OID, canonical an out-pointer.
    let major = unsafe { (gss.canonicalize_name)(&mut minor, name, &mech, &mut canonical) };
    gss.release_name_handle(&mut name);
    if is_error(major) {
        return None;
    }
    let shown = gss.display(canonical);
    gss.release_name_handle(&mut canonical);
    let shown = shown.ok()?;
    shown.split_once('@').map(|(_, realm)| realm.to_string())
}

/// An acceptor credential: the service's keys from a keytab (Java's `GSSCredential` created
/// `ACCEPT_ONLY` from the JAAS login's keys).
pub struct Credential {
    gss: &'static Gss,
    cred: Cred,
}

// SAFETY: MIT's credential records carry their own mutex; accept_sec_context may use one
// credential from several threads at once. We never mutate it after acquisition.
unsafe impl Send for Credential {}
// SAFETY: as above.
unsafe impl Sync for Credential {}

impl Credential {
    /// Loads the library and acquires the acceptor credential of `principal` (a Kerberos
    /// principal; without a realm, the default realm) from `keytab` (`None`: the default
    /// keytab). Fails when the keytab is missing or holds no key for the principal.
    pub fn acquire(principal: &str, keytab: Option<&str>) -> Result<Arc<Credential>, String> {
        let store: Vec<(&str, &str)> = keytab.map(|k| ("keytab", k)).into_iter().collect();
        Self::acquire_from(principal, GSS_C_ACCEPT, &store)
    }

    /// The initiator credential of `principal` with keys from the client keytab `keytab`
    /// (`None`: the default client keytab), its tickets kept in the in-memory cache `ccache`
    /// (so no file cache of the machine is read or written). Then logs in at once (the
    /// AS exchange with the KDC, as the JDK's `Krb5LoginModule.login` does at startup) and
    /// returns the credential, the principal's full name (`name/host@REALM`) and the
    /// remaining lifetime of its ticket in seconds.
    pub fn login(
        principal: &str,
        keytab: Option<&str>,
        ccache: &str,
    ) -> Result<(Arc<Credential>, String, u32), String> {
        let mut store = vec![("ccache", ccache)];
        if let Some(k) = keytab {
            store.push(("client_keytab", k));
        }
        let cred = Self::acquire_from(principal, GSS_C_INITIATE, &store)?;
        let gss = cred.gss;
        let mut name: Name = ptr::null_mut();
        let mut lifetime = 0u32;
        let mut minor = 0;
        // SAFETY: cred is live; name and lifetime are out-pointers to locals; the usage and
        // mechanism outputs are not wanted (null). MIT resolves a client-keytab credential
        // here, getting the ticket-granting ticket.
        let major = unsafe {
            (gss.inquire_cred)(
                &mut minor,
                cred.cred,
                &mut name,
                &mut lifetime,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(gss.error("gss_inquire_cred", major, minor));
        }
        let full = gss.display(name);
        gss.release_name_handle(&mut name);
        Ok((cred, full?, lifetime))
    }

    fn acquire_from(
        principal: &str,
        usage: c_int,
        store: &[(&str, &str)],
    ) -> Result<Arc<Credential>, String> {
        let gss = gss()?;
        let mut owned = Vec::new();
        for (k, v) in store {
            match (CString::new(*k), CString::new(*v)) {
                (Ok(k), Ok(v)) => owned.push((k, v)),
                _ => return Err(format!("{k} contains a NUL byte")),
            }
        }
        let elements: Vec<KeyValue> = owned
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let store = KeyValueSet {
            count: elements.len() as u32,
            elements: elements.as_ptr(),
        };
        let mut name = gss.import_principal(principal)?;
        let mech = oid(KRB5_MECH);
        let mechs = OidSet {
            count: 1,
            elements: &mech,
        };
        let mut cred: Cred = ptr::null_mut();
        let mut minor = 0;
        // SAFETY: every pointer refers to a local that outlives the call; name is live.
        let major = unsafe {
            (gss.acquire_cred_from)(
                &mut minor,
                name,
                GSS_C_INDEFINITE,
                &mechs,
                usage,
                &store,
                &mut cred,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        gss.release_name_handle(&mut name);
        if is_error(major) {
            return Err(gss.error("gss_acquire_cred_from", major, minor));
        }
        Ok(Arc::new(Credential { gss, cred }))
    }
}

impl Drop for Credential {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: a live credential handle, released once.
        unsafe { (self.gss.release_cred)(&mut minor, &mut self.cred) };
    }
}

/// One acceptor security context (one client's Kerberos authentication).
pub struct Acceptor {
    cred: Arc<Credential>,
    ctx: Ctx,
    source: Name,
    established: bool,
}

// SAFETY: the context is used through &mut self only, so from one thread at a time; MIT
// contexts carry no thread affinity.
unsafe impl Send for Acceptor {}

impl Acceptor {
    pub fn new(cred: Arc<Credential>) -> Acceptor {
        Acceptor {
            cred,
            ctx: ptr::null_mut(),
            source: ptr::null_mut(),
            established: false,
        }
    }
}

impl super::AcceptorContext for Acceptor {
    fn accept(&mut self, token: &[u8]) -> Result<super::Step, String> {
        if self.established {
            return Err("context already established".into());
        }
        let gss = self.cred.gss;
        let input = Buffer::input(token);
        let mut output = Buffer::empty();
        let mut minor = 0;
        let mut flags = 0u32;
        // Only the first call may return the initiator's name; release a stale one.
        gss.release_name_handle(&mut self.source);
        // SAFETY: ctx is null or a live context owned by self; cred is live (Arc); input
        // borrows `token`; the rest are out-pointers to locals or fields.
        let major = unsafe {
            (gss.accept_sec_context)(
                &mut minor,
                &mut self.ctx,
                self.cred.cred,
                &input,
                ptr::null(),
                &mut self.source,
                ptr::null_mut(),
                &mut output,
                &mut flags,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        let out = gss.take(&mut output);
        if is_error(major) {
            return Err(gss.error("gss_accept_sec_context", major, minor));
        }
        self.established = major & GSS_S_CONTINUE_NEEDED == 0;
        Ok(super::Step {
            token: out,
            established: self.established,
        })
    }

    fn source_name(&self) -> Result<String, String> {
        if !self.established || self.source.is_null() {
            return Err("context not established".into());
        }
        self.cred.gss.display(self.source)
    }

    fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
        if !self.established {
            return Err("context not established".into());
        }
        self.cred.gss.wrap(self.ctx, message)
    }

    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
        if !self.established {
            return Err("context not established".into());
        }
        self.cred.gss.unwrap(self.ctx, token)
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let gss = self.cred.gss;
        gss.release_name_handle(&mut self.source);
        if !self.ctx.is_null() {
            let mut minor = 0;
            // SAFETY: a live context owned by self, deleted once; no output token wanted.
            unsafe { (gss.delete_sec_context)(&mut minor, &mut self.ctx, ptr::null_mut()) };
        }
    }
}

/// One initiator security context: the quorum learner authenticating to a quorum server.
pub struct Initiator {
    cred: Arc<Credential>,
    target: Name,
    ctx: Ctx,
    established: bool,
}

// SAFETY: as for `Acceptor`: used through &mut self only; no thread affinity.
unsafe impl Send for Initiator {}

impl Initiator {
    /// A context towards the service principal `target` (`service/host@REALM`, taken as
    /// given: no host name canonicalization).
    pub fn new(cred: Arc<Credential>, target: &str) -> Result<Initiator, String> {
        let target = cred.gss.import_principal(target)?;
        Ok(Initiator {
            cred,
            target,
            ctx: ptr::null_mut(),
            established: false,
        })
    }
}

impl super::InitiatorContext for Initiator {
    fn init(&mut self, token: &[u8]) -> Result<super::Step, String> {
        if self.established {
            return Err("context already established".into());
        }
        let gss = self.cred.gss;
        let input = Buffer::input(token);
        let mut output = Buffer::empty();
        let mut minor = 0;
        let mech = oid(KRB5_MECH);
        // SAFETY: cred and target are live handles owned through self; ctx is null or a
        // live context owned by self; input borrows `token`; output is a local.
        let major = unsafe {
            (gss.init_sec_context)(
                &mut minor,
                self.cred.cred,
                &mut self.ctx,
                self.target,
                &mech,
                GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG,
                0,
                ptr::null(),
                &input,
                ptr::null_mut(),
                &mut output,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        let out = gss.take(&mut output);
        if is_error(major) {
            return Err(gss.error("gss_init_sec_context", major, minor));
        }
        self.established = major & GSS_S_CONTINUE_NEEDED == 0;
        Ok(super::Step {
            token: out,
            established: self.established,
        })
    }

    fn wrap(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
        if !self.established {
            return Err("context not established".into());
        }
        self.cred.gss.wrap(self.ctx, message)
    }

    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
        if !self.established {
            return Err("context not established".into());
        }
        self.cred.gss.unwrap(self.ctx, token)
    }
}

impl Drop for Initiator {
    fn drop(&mut self) {
        let gss = self.cred.gss;
        gss.release_name_handle(&mut self.target);
        if !self.ctx.is_null() {
            let mut minor = 0;
            // SAFETY: a live context owned by self, deleted once; no output token wanted.
            unsafe { (gss.delete_sec_context)(&mut minor, &mut self.ctx, ptr::null_mut()) };
        }
    }
}
