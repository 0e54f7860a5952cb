"""A throw-away MIT Kerberos KDC for tests (Debian's krb5-kdc, kdb5_util, kadmin.local).

    with Kdc(tmp_path) as kdc:               # own dir, realm, free port on 127.0.0.1
        kt = kdc.add_principal("zookeeper/localhost")   # -> keytab path
        env = kdc.env(ccache)                 # KRB5_CONFIG, KRB5CCNAME, ... for a client
        kdc.kinit("client", kt_client, ccache)
        kdc.java_props()                      # -Djava.security.krb5.conf=... for the JDK

Everything lives in the given directory: krb5.conf, kdc.conf, the database, the stash, the
keytabs and the KDC's log, so parallel test sessions do not meet (each its own port and
realm). The KDC runs in the foreground (`krb5kdc -n`) as a child process and is stopped by
`stop()` / the context manager. The JDK ignores KRB5_CONFIG: pass `java_props()` to Java.

The quorum tests can reuse it as is: one principal per server (`zookeeper/localhost` works for
all members on one machine), a keytab each, `java_props()` for Java members and `env()` for
zkserver members.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import zkharness

KRB5KDC = shutil.which("krb5kdc") or "/usr/sbin/krb5kdc"
KDB5_UTIL = shutil.which("kdb5_util") or "/usr/sbin/kdb5_util"
KADMIN_LOCAL = shutil.which("kadmin.local") or "/usr/sbin/kadmin.local"
KINIT = shutil.which("kinit") or "/usr/bin/kinit"


def available() -> Optional[str]:
    """None when the KDC tools are installed, else why not (tools/install-deps.sh installs)."""
    for tool in (KRB5KDC, KDB5_UTIL, KADMIN_LOCAL, KINIT):
        if not Path(tool).exists():
            return "%s missing (run tools/install-deps.sh: krb5-kdc krb5-admin-server krb5-user)" % tool
    return None


KRB5_CONF = """\
[libdefaults]
    default_realm = {realm}
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    clockskew = {clockskew}
    ticket_lifetime = 1h
    forwardable = false
    default_ccache_name = FILE:{dir}/ccache-default

[realms]
    {realm} = {{
        kdc = 127.0.0.1:{port}
    }}

[domain_realm]
    localhost = {realm}
"""

KDC_CONF = """\
[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}

[realms]
    {realm} = {{
        database_name = {dir}/principal
        key_stash_file = {dir}/stash
        acl_file = {dir}/kadm5.acl
        max_life = 1h
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}

[logging]
    kdc = FILE:{dir}/kdc.log
"""


class Kdc:
    def __init__(self, workdir, realm: Optional[str] = None, clockskew_s: int = 300):
        """clockskew_s: the tolerance of every party using this krb5.conf (small values let a
        test see a ticket expire)."""
        self.clockskew_s = clockskew_s
        self.dir = Path(workdir) / "kdc"
        self.realm = realm or ("ZK%s.TEST" % uuid.uuid4().hex[:8].upper())
        self.port = zkharness.free_port()
        self.krb5_conf = self.dir / "krb5.conf"
        self.kdc_conf = self.dir / "kdc.conf"
        self.proc: Optional[subprocess.Popen] = None

    # -- environment --------------------------------------------------------------------
    def env(self, ccache: Optional[Path] = None) -> Dict[str, str]:
        """os.environ plus this KDC's configuration (and a credential cache, if given)."""
        env = dict(os.environ)
        env["KRB5_CONFIG"] = str(self.krb5_conf)
        env["KRB5_KDC_PROFILE"] = str(self.kdc_conf)
        env["KRB5_TRACE"] = env.get("KRB5_TRACE", "/dev/null")
        # No stray default keytab/ccache from the machine.
        env["KRB5_KTNAME"] = "FILE:%s/default.keytab" % self.dir
        env["KRB5_CLIENT_KTNAME"] = "FILE:%s/default-client.keytab" % self.dir
        env["KRB5RCACHEDIR"] = str(self.dir)
        if ccache is not None:
            env["KRB5CCNAME"] = "FILE:%s" % ccache
        return env

    def java_props(self) -> List[str]:
        return ["-Djava.security.krb5.conf=%s" % self.krb5_conf,
                "-Dsun.security.krb5.disableReferrals=true"]

    def _run(self, cmd, input_text: Optional[str] = None) -> str:
        r = subprocess.run(cmd, env=self.env(), input=input_text, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (cmd[0], r.returncode, r.stdout, r.stderr))
        return r.stdout

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> "Kdc":
        why = available()
        if why:
            raise RuntimeError(why)
        self.dir.mkdir(parents=True, exist_ok=True)
        fmt = dict(realm=self.realm, port=self.port, dir=self.dir, clockskew=self.clockskew_s)
        self.krb5_conf.write_text(KRB5_CONF.format(**fmt))
        self.kdc_conf.write_text(KDC_CONF.format(**fmt))
        (self.dir / "kadm5.acl").write_text("")
        self._run([KDB5_UTIL, "-r", self.realm, "-P", "masterpw-" + uuid.uuid4().hex,
                   "create", "-s"])
        log = open(self.dir / "krb5kdc.out", "ab")
        try:
            self.proc = subprocess.Popen(
                [KRB5KDC, "-n", "-r", self.realm], env=self.env(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited (%s): %s" % (
                    self.proc.returncode, (self.dir / "krb5kdc.out").read_text()[-2000:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("krb5kdc did not listen on 127.0.0.1:%d" % self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> "Kdc":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- principals ---------------------------------------------------------------------
    def principal(self, name: str) -> str:
        return name if "@" in name else "%s@%s" % (name, self.realm)

    def add_principal(self, name: str, keytab: Optional[Path] = None,
                      max_life: Optional[str] = None) -> Path:
        """Creates `name` with a random key and exports it to `keytab` (default
        <dir>/<name>.keytab); returns the keytab's path."""
        keytab = Path(keytab or self.dir / ("%s.keytab" % name.replace("/", "_")))
        extra = ["-maxlife", max_life] if max_life else []
        self._run([KADMIN_LOCAL, "-r", self.realm, "-q",
                   " ".join(["addprinc", "-randkey"] + extra + [self.principal(name)])])
        self._run([KADMIN_LOCAL, "-r", self.realm, "-q",
                   "ktadd -k %s %s" % (keytab, self.principal(name))])
        return keytab

    def kinit(self, name: str, keytab: Path, ccache: Path, lifetime: Optional[str] = None) -> None:
        """A ticket-granting ticket for `name` from its keytab into `ccache`."""
        cmd = [KINIT, "-k", "-t", str(keytab)]
        if lifetime:
            cmd += ["-l", lifetime]
        r = subprocess.run(cmd + [self.principal(name)], env=self.env(ccache),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("kinit %s failed: %s%s" % (name, r.stdout, r.stderr))
